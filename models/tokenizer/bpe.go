package tokenizer

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// bpe is the BPE model of a tokenizer.json.
type bpe struct {
	vocab        map[string]int
	merges       map[[2]int]merge // pair of ids → rank and merged id
	unk          int              // -1: none
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	bytes        [256]int // ids of <0xXX>, -1 when absent

	mu    sync.Mutex
	cache map[string][]int
}

type merge struct{ rank, id int }

// parseMerges reads merges as "a b" strings or ["a", "b"] pairs.
func (m *bpe) addMerges(raw []any) error {
	m.merges = make(map[[2]int]merge, len(raw))
	for i, r := range raw {
		var a, b string
		switch v := r.(type) {
		case string:
			var ok bool
			a, b, ok = strings.Cut(v, " ")
			if !ok || strings.Contains(b, " ") {
				return fmt.Errorf("model.merges[%d] = %q: want two tokens separated by one space", i, v)
			}
		case []any:
			if len(v) != 2 {
				return fmt.Errorf("model.merges[%d]: want a pair, have %d values", i, len(v))
			}
			x, ok1 := v[0].(string)
			y, ok2 := v[1].(string)
			if !ok1 || !ok2 {
				return fmt.Errorf("model.merges[%d]: want a pair of strings", i)
			}
			a, b = x, y
		default:
			return fmt.Errorf("model.merges[%d]: want a string or a pair, have %T", i, r)
		}
		ia, ok1 := m.vocab[a]
		ib, ok2 := m.vocab[b]
		ic, ok3 := m.vocab[a+b]
		if !ok1 || !ok2 || !ok3 {
			return fmt.Errorf("model.merges[%d] = %q %q: a part or the merged token %q is not in the vocabulary", i, a, b, a+b)
		}
		if _, dup := m.merges[[2]int{ia, ib}]; !dup {
			m.merges[[2]int{ia, ib}] = merge{rank: i, id: ic}
		}
	}
	return nil
}

// tokenize returns the ids of one pre-tokenized piece.
func (m *bpe) tokenize(piece string) []int {
	if piece == "" {
		return nil
	}
	m.mu.Lock()
	if ids, ok := m.cache[piece]; ok {
		m.mu.Unlock()
		return ids
	}
	m.mu.Unlock()
	ids := m.encode(piece)
	m.mu.Lock()
	if len(m.cache) > 1<<16 {
		clear(m.cache)
	}
	m.cache[piece] = ids
	m.mu.Unlock()
	return ids
}

func (m *bpe) encode(piece string) []int {
	if m.ignoreMerges {
		if id, ok := m.vocab[piece]; ok {
			return []int{id}
		}
	}
	// the initial symbols: one per character, or its bytes, or unk
	var syms []int
	lastUnk := false
	for i, r := range piece {
		w := utf8.RuneLen(r)
		if r == utf8.RuneError {
			_, w = utf8.DecodeRuneInString(piece[i:])
		}
		ch := piece[i : i+w]
		if id, ok := m.vocab[ch]; ok {
			syms = append(syms, id)
			lastUnk = false
			continue
		}
		if m.byteFallback {
			all := true
			for j := range len(ch) {
				if m.bytes[ch[j]] < 0 {
					all = false
				}
			}
			if all {
				for j := range len(ch) {
					syms = append(syms, m.bytes[ch[j]])
				}
				lastUnk = false
				continue
			}
		}
		if m.unk < 0 {
			continue // tokenizers drops a character it cannot represent
		}
		if m.fuseUnk && lastUnk {
			continue
		}
		syms = append(syms, m.unk)
		lastUnk = true
	}
	// merge the lowest-ranked adjacent pair, leftmost first, until none applies
	for len(syms) > 1 {
		best, at := merge{rank: -1}, -1
		for i := 0; i+1 < len(syms); i++ {
			if mg, ok := m.merges[[2]int{syms[i], syms[i+1]}]; ok && (at < 0 || mg.rank < best.rank) {
				best, at = mg, i
			}
		}
		if at < 0 {
			break
		}
		syms[at] = best.id
		syms = append(syms[:at+1], syms[at+2:]...)
	}
	return syms
}
