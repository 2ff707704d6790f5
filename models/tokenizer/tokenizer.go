package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode/utf8"
)

// Tokenizer encodes text to token ids and back as the Hugging Face
// tokenizer.json it was read from does.
type Tokenizer struct {
	name      string
	model     *bpe
	norm      normalizer
	pre       preTokenizer
	byteLevel bool
	dec       decoder
	added     []addedToken // longest content first
	addedByID map[int]addedToken
	tokens    []string // id → token (model vocabulary and added tokens)
	template  []templPiece
	source    []byte // the JSON of a trained tokenizer
}

type templPiece struct {
	ids      []int // special token ids, or nil for the sequence
	sequence bool
}

// Error is a tokenizer file that cannot be used: it names the file and
// the part of it that is wrong.
type Error struct {
	File string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("tokenizer: %s: %v", e.File, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Load reads a tokenizer.json file (or the tokenizer.json in a directory).
func Load(path string) (*Tokenizer, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = path + string(os.PathSeparator) + "tokenizer.json"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return Parse(path, data)
}

// Parse reads tokenizer.json from data; name is used in errors.
func Parse(name string, data []byte) (*Tokenizer, error) {
	bad := func(format string, args ...any) error {
		return &Error{File: name, Err: fmt.Errorf(format, args...)}
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, bad("not a tokenizer.json: %v", err)
	}
	if dec.More() {
		return nil, bad("data after the JSON object")
	}
	if f.Model == nil {
		return nil, bad("no \"model\"")
	}
	mj := f.Model
	if mj.Type == "" && mj.Merges != nil {
		mj.Type = "BPE"
	}
	switch {
	case mj.Type != "BPE":
		return nil, bad("model.type %q is not supported: want BPE", mj.Type)
	case mj.ContinuingSubwordPrefix != nil && *mj.ContinuingSubwordPrefix != "" || mj.EndOfWordSuffix != nil && *mj.EndOfWordSuffix != "":
		return nil, bad("model: continuing_subword_prefix and end_of_word_suffix are not supported")
	case mj.Dropout != nil && *mj.Dropout != 0:
		return nil, bad("model: BPE dropout %v is not supported (encoding would be random)", *mj.Dropout)
	}
	var vocab map[string]int
	if err := json.Unmarshal(mj.Vocab, &vocab); err != nil {
		return nil, bad("model.vocab: %v (want an object of token ids)", err)
	}
	if len(vocab) == 0 {
		return nil, bad("model.vocab is empty")
	}
	t := &Tokenizer{name: name, addedByID: map[int]addedToken{}}
	m := &bpe{vocab: vocab, unk: -1, fuseUnk: mj.FuseUnk, byteFallback: mj.ByteFallback, ignoreMerges: mj.IgnoreMerges, cache: map[string][]int{}}
	size := 0
	for tok, id := range vocab {
		if id < 0 || id > 1<<24 {
			return nil, bad("model.vocab[%q] = %d: want an id in 0…2²⁴", tok, id)
		}
		size = max(size, id+1)
	}
	for _, a := range f.AddedTokens {
		if a.ID < 0 || a.ID > 1<<24 || a.Content == "" {
			return nil, bad("added token %q with id %d: want a non-empty token with an id in 0…2²⁴", a.Content, a.ID)
		}
		size = max(size, a.ID+1)
	}
	t.tokens = make([]string, size)
	seen := make([]bool, size)
	for tok, id := range vocab {
		if seen[id] {
			return nil, bad("model.vocab: id %d is given to %q and %q", id, t.tokens[id], tok)
		}
		seen[id] = true
		t.tokens[id] = tok
	}
	if err := m.addMerges(mj.Merges); err != nil {
		return nil, bad("%v", err)
	}
	for b := range 256 {
		m.bytes[b] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.bytes[b] = id
		}
	}
	if mj.UnkToken != nil {
		id, ok := vocab[*mj.UnkToken]
		if !ok {
			return nil, bad("model.unk_token %q is not in the vocabulary", *mj.UnkToken)
		}
		m.unk = id
	}
	t.model = m
	for _, a := range f.AddedTokens {
		if seen[a.ID] && t.tokens[a.ID] != a.Content {
			return nil, bad("added token %q has id %d, which the vocabulary gives to %q", a.Content, a.ID, t.tokens[a.ID])
		}
		seen[a.ID] = true
		t.tokens[a.ID] = a.Content
		t.addedByID[a.ID] = a
		t.added = append(t.added, a)
	}
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].Content) > len(t.added[j].Content) })
	var err error
	if t.norm, err = parseNormalizer("normalizer", f.Normalizer); err != nil {
		return nil, bad("%v", err)
	}
	if t.pre, t.byteLevel, err = parsePreTokenizer("pre_tokenizer", f.PreTokenizer); err != nil {
		return nil, bad("%v", err)
	}
	if t.dec, err = parseDecoder("decoder", f.Decoder); err != nil {
		return nil, bad("%v", err)
	}
	if err := t.parsePost("post_processor", f.PostProcessor); err != nil {
		return nil, bad("%v", err)
	}
	return t, nil
}

func (t *Tokenizer) parsePost(where string, c *component) error {
	if c == nil {
		return nil
	}
	switch c.Type {
	case "Sequence":
		for i := range c.Processors {
			if err := t.parsePost(fmt.Sprintf("%s.processors[%d]", where, i), &c.Processors[i]); err != nil {
				return err
			}
		}
		return nil
	case "ByteLevel":
		return nil // offsets only
	case "TemplateProcessing":
		t.template = nil
		for i, p := range c.Single {
			switch {
			case p.Sequence != nil:
				if p.Sequence.ID != "A" {
					return fmt.Errorf("%s.single[%d]: sequence %q: want A", where, i, p.Sequence.ID)
				}
				t.template = append(t.template, templPiece{sequence: true})
			case p.SpecialToken != nil:
				st, ok := c.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("%s.single[%d]: special token %q is not in special_tokens", where, i, p.SpecialToken.ID)
				}
				for _, id := range st.IDs {
					if id < 0 || id >= len(t.tokens) || t.tokens[id] == "" {
						return fmt.Errorf("%s: special token %q has id %d, not in the vocabulary", where, p.SpecialToken.ID, id)
					}
				}
				t.template = append(t.template, templPiece{ids: st.IDs})
			default:
				return fmt.Errorf("%s.single[%d]: want SpecialToken or Sequence", where, i)
			}
		}
		return nil
	}
	return fmt.Errorf("%s: post-processor %q is not supported (want Sequence, ByteLevel or TemplateProcessing)", where, c.Type)
}

// VocabSize returns the number of ids (the model's vocabulary and the added tokens).
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// ID returns the id of a token.
func (t *Tokenizer) ID(token string) (int, bool) {
	if id, ok := t.model.vocab[token]; ok {
		return id, true
	}
	for _, a := range t.added {
		if a.Content == token {
			return a.ID, true
		}
	}
	return 0, false
}

// Token returns the token of an id ("" when there is none).
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// IsSpecial reports whether id is an added special token (BOS, EOS, …).
func (t *Tokenizer) IsSpecial(id int) bool { a, ok := t.addedByID[id]; return ok && a.Special }

// String describes the tokenizer.
func (t *Tokenizer) String() string {
	kind := "SentencePiece-style BPE"
	if t.byteLevel {
		kind = "byte-level BPE"
	}
	return fmt.Sprintf("%s tokenizer, %d tokens (%d added)", kind, len(t.tokens), len(t.added))
}

// segment is a stretch of the input: text to tokenize, or an added token.
type segment struct {
	text  string
	added int // id, or -1
	start int // byte offset in the input
}

// splitAdded cuts text around the added tokens (longest match at the
// leftmost position), honouring lstrip, rstrip and single_word.
func (t *Tokenizer) splitAdded(text string, normalized bool) []segment {
	var out []segment
	at, from := 0, 0
	for from < len(text) {
		best, bestAt := -1, len(text)
		for i, a := range t.added {
			if a.Normalized != normalized {
				continue
			}
			j := strings.Index(text[from:], a.Content)
			for j >= 0 {
				k := from + j
				if !a.SingleWord || wordBoundary(text, k, k+len(a.Content)) {
					break
				}
				n := strings.Index(text[k+1:], a.Content)
				if n < 0 {
					j = -1
					break
				}
				j = k + 1 + n - from
			}
			if j < 0 {
				continue
			}
			if k := from + j; k < bestAt || k == bestAt && len(a.Content) > len(t.added[best].Content) {
				best, bestAt = i, k
			}
		}
		if best < 0 {
			break
		}
		a := t.added[best]
		s, e := bestAt, bestAt+len(a.Content)
		if a.LStrip {
			for s > at {
				r, w := utf8.DecodeLastRuneInString(text[at:s])
				if !isSpace(r) {
					break
				}
				s -= w
			}
		}
		if a.RStrip {
			e = scanner{text}.run(e, isSpace)
		}
		if s > at {
			out = append(out, segment{text: text[at:s], added: -1, start: at})
		}
		out = append(out, segment{added: a.ID, start: s})
		at, from = e, e
	}
	if at < len(text) {
		out = append(out, segment{text: text[at:], added: -1, start: at})
	}
	return out
}

func wordBoundary(s string, i, j int) bool {
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:i])
		if isLetter(r) || isNumber(r) || r == '_' {
			return false
		}
	}
	if j < len(s) {
		r, _ := utf8.DecodeRuneInString(s[j:])
		if isLetter(r) || isNumber(r) || r == '_' {
			return false
		}
	}
	return true
}

// Encode returns the ids of text; addSpecial applies the post-processor's
// template (e.g. a leading BOS).
func (t *Tokenizer) Encode(text string, addSpecial bool) []int {
	var ids []int
	for _, seg := range t.splitAdded(text, false) {
		if seg.added >= 0 {
			ids = append(ids, seg.added)
			continue
		}
		s := seg.text
		if t.norm != nil {
			s = t.norm(s)
		}
		for _, sub := range t.splitAdded(s, true) {
			if sub.added >= 0 {
				ids = append(ids, sub.added)
				continue
			}
			pieces := []string{sub.text}
			if t.pre != nil {
				pieces = t.pre(pieces, seg.start == 0 && sub.start == 0)
			}
			for _, p := range pieces {
				ids = append(ids, t.model.tokenize(p)...)
			}
		}
	}
	if !addSpecial || t.template == nil {
		return ids
	}
	var out []int
	for _, p := range t.template {
		if p.sequence {
			out = append(out, ids...)
		} else {
			out = append(out, p.ids...)
		}
	}
	return out
}

// ErrUnknownID is returned by Decode for an id outside the vocabulary.
var ErrUnknownID = errors.New("tokenizer: unknown token id")

// Decode returns the text of ids; skipSpecial leaves special tokens out.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) (string, error) {
	var toks []string
	for _, id := range ids {
		if id < 0 || id >= len(t.tokens) || t.tokens[id] == "" {
			return "", fmt.Errorf("%w %d (vocabulary of %d)", ErrUnknownID, id, len(t.tokens))
		}
		if skipSpecial && t.IsSpecial(id) {
			continue
		}
		toks = append(toks, t.tokens[id])
	}
	return strings.Join(t.dec(toks), ""), nil
}
