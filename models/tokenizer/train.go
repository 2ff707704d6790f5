package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// TrainOptions controls Train.
type TrainOptions struct {
	VocabSize int      // total, special tokens and the 256 byte tokens included
	Special   []string // special tokens, given the first ids
	// BOS, when one of Special, is put before every text Encode is asked
	// to add special tokens to (a TemplateProcessing post-processor).
	BOS string
	// MinFrequency stops the merges when the most frequent pair is rarer (default 2).
	MinFrequency int
}

// Train learns a byte-level BPE tokenizer (GPT-2's split and byte
// alphabet, as tokenizers' BpeTrainer makes one) from texts: starting from
// the 256 bytes it adds, one at a time, the merge of the most frequent
// adjacent pair.
func Train(texts []string, o TrainOptions) (*Tokenizer, error) {
	if o.MinFrequency == 0 {
		o.MinFrequency = 2
	}
	base := len(o.Special) + 256
	if o.VocabSize < base {
		return nil, fmt.Errorf("tokenizer: Train: vocabulary of %d is smaller than the %d special and byte tokens", o.VocabSize, base)
	}
	// unique pre-tokenized pieces and their counts
	counts := map[string]int{}
	for _, t := range texts {
		for _, p := range splitPieces(t, scanner.gpt2Next) {
			counts[toByteLevel(p)]++
		}
	}
	vocab := map[string]int{}
	var tokens []string
	add := func(s string) {
		vocab[s] = len(tokens)
		tokens = append(tokens, s)
	}
	for _, s := range o.Special {
		if _, dup := vocab[s]; dup || s == "" {
			return nil, fmt.Errorf("tokenizer: Train: special token %q is empty or repeated", s)
		}
		add(s)
	}
	alphabet := make([]string, 0, 256)
	for b := range 256 {
		alphabet = append(alphabet, string(byteRunes[b]))
	}
	sort.Strings(alphabet)
	for _, s := range alphabet {
		if _, dup := vocab[s]; dup {
			return nil, fmt.Errorf("tokenizer: Train: special token %q is also a byte token", s)
		}
		add(s)
	}
	type word struct {
		syms  []int
		count int
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	words := make([]word, 0, len(keys))
	for _, k := range keys {
		w := word{count: counts[k]}
		for _, r := range k {
			w.syms = append(w.syms, vocab[string(r)])
		}
		words = append(words, w)
	}
	var merges [][2]string
	for len(tokens) < o.VocabSize {
		pairs := map[[2]int]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w.syms); i++ {
				pairs[[2]int{w.syms[i], w.syms[i+1]}] += w.count
			}
		}
		best, bestN := [2]int{}, 0
		for p, n := range pairs {
			if n > bestN || n == bestN && less(tokens, p, best) {
				best, bestN = p, n
			}
		}
		if bestN < o.MinFrequency {
			break
		}
		a, b := tokens[best[0]], tokens[best[1]]
		merged := a + b
		if _, ok := vocab[merged]; ok {
			// the same string reached by another merge: keep the first id
		} else {
			add(merged)
		}
		id := vocab[merged]
		merges = append(merges, [2]string{a, b})
		for wi := range words {
			s := words[wi].syms
			out := s[:0]
			for i := 0; i < len(s); i++ {
				if i+1 < len(s) && s[i] == best[0] && s[i+1] == best[1] {
					out = append(out, id)
					i++
					continue
				}
				out = append(out, s[i])
			}
			words[wi].syms = out
		}
	}
	js, err := byteLevelJSON(tokens, merges, o)
	if err != nil {
		return nil, err
	}
	t, err := Parse("trained tokenizer", js)
	if err != nil {
		return nil, err
	}
	t.source = js
	return t, nil
}

// less orders pairs by their token strings, so ties break the same way on
// every run.
func less(tokens []string, p, q [2]int) bool {
	if tokens[p[0]] != tokens[q[0]] {
		return tokens[p[0]] < tokens[q[0]]
	}
	return tokens[p[1]] < tokens[q[1]]
}

// byteLevelJSON writes a GPT-2-style tokenizer.json.
func byteLevelJSON(tokens []string, merges [][2]string, o TrainOptions) ([]byte, error) {
	type m = map[string]any
	vocab := m{}
	for i, t := range tokens {
		vocab[t] = i
	}
	var added []m
	for i, s := range o.Special {
		added = append(added, m{"id": i, "content": s, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
	}
	bl := m{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	var post any = m{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}
	if o.BOS != "" {
		id := -1
		for i, s := range o.Special {
			if s == o.BOS {
				id = i
			}
		}
		if id < 0 {
			return nil, fmt.Errorf("tokenizer: Train: BOS %q is not one of the special tokens", o.BOS)
		}
		bos := m{"SpecialToken": m{"id": o.BOS, "type_id": 0}}
		post = m{"type": "Sequence", "processors": []any{post, m{"type": "TemplateProcessing",
			"single":         []any{bos, m{"Sequence": m{"id": "A", "type_id": 0}}},
			"pair":           []any{bos, m{"Sequence": m{"id": "A", "type_id": 0}}, bos, m{"Sequence": m{"id": "B", "type_id": 1}}},
			"special_tokens": m{o.BOS: m{"id": o.BOS, "ids": []int{id}, "tokens": []string{o.BOS}}}}}}
	}
	f := m{"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added,
		"normalizer": nil, "pre_tokenizer": bl, "post_processor": post,
		"decoder": m{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": m{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil, "end_of_word_suffix": nil,
			"fuse_unk": false, "byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": merges}}
	return json.MarshalIndent(f, "", "  ")
}

// Save writes the tokenizer as tokenizer.json to path. Only tokenizers
// made by Train can be saved; a loaded one is its own file already.
func (t *Tokenizer) Save(path string) error {
	if t.source == nil {
		return fmt.Errorf("tokenizer: Save: %s was loaded from a file; copy that file", t.name)
	}
	return os.WriteFile(path, append(t.source, '\n'), 0o644)
}
