package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The split patterns that need look-ahead, as tokenizer.json files spell them.
const (
	gpt2Pattern   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

func isSpace(r rune) bool  { return unicode.Is(unicode.White_Space, r) }
func isLetter(r rune) bool { return unicode.IsLetter(r) }
func isNumber(r rune) bool { return unicode.IsNumber(r) }
func isNL(r rune) bool     { return r == '\r' || r == '\n' }

// scanner walks a string rune by rune.
type scanner struct {
	s string
}

// at returns the rune at byte offset i and its width (0 at the end).
func (sc scanner) at(i int) (rune, int) {
	if i >= len(sc.s) {
		return -1, 0
	}
	return utf8.DecodeRuneInString(sc.s[i:])
}

// run returns the end of the longest run of runes from i satisfying f.
func (sc scanner) run(i int, f func(rune) bool) int {
	for {
		r, w := sc.at(i)
		if w == 0 || !f(r) {
			return i
		}
		i += w
	}
}

// contraction returns the end of 's 't 're 've 'm 'll 'd at i, or -1;
// fold accepts upper case too.
func (sc scanner) contraction(i int, fold bool) int {
	if i >= len(sc.s) || sc.s[i] != '\'' {
		return -1
	}
	rest := sc.s[i+1:]
	for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
		if len(rest) < len(c) {
			continue
		}
		p := rest[:len(c)]
		if p == c || fold && equalFoldASCII(p, c) {
			return i + 1 + len(c)
		}
	}
	return -1
}

func equalFoldASCII(a, b string) bool {
	for i := range len(a) {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// spaces matches \s+(?!\S)|\s+ at i (i at whitespace): the run less its
// last rune when a non-space follows and the run is longer than one.
func (sc scanner) spaces(i int) int {
	end := sc.run(i, isSpace)
	if end < len(sc.s) {
		_, w := utf8.DecodeLastRuneInString(sc.s[i:end])
		if end-w > i {
			return end - w
		}
	}
	return end
}

// gpt2Next returns the end of the piece starting at i under GPT-2's pattern.
func (sc scanner) gpt2Next(i int) int {
	if e := sc.contraction(i, false); e > 0 {
		return e
	}
	r, w := sc.at(i)
	j := i
	if r == ' ' {
		j = i + w
	}
	r2, _ := sc.at(j)
	switch {
	case isLetter(r2):
		return sc.run(j, isLetter)
	case isNumber(r2):
		return sc.run(j, isNumber)
	case r2 >= 0 && !isSpace(r2):
		return sc.run(j, func(r rune) bool { return !isSpace(r) && !isLetter(r) && !isNumber(r) })
	}
	if isSpace(r) {
		return sc.spaces(i)
	}
	return i + w // unreachable: every rune is one of the classes above
}

// llama3Next returns the end of the piece starting at i under Llama 3's pattern.
func (sc scanner) llama3Next(i int) int {
	if e := sc.contraction(i, true); e > 0 {
		return e
	}
	r, w := sc.at(i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isLetter(r) {
		return sc.run(i, isLetter)
	}
	if !isNL(r) && !isNumber(r) {
		if r2, _ := sc.at(i + w); isLetter(r2) {
			return sc.run(i+w, isLetter)
		}
	}
	// \p{N}{1,3}
	if isNumber(r) {
		j := i
		for k := 0; k < 3; k++ {
			r, w := sc.at(j)
			if w == 0 || !isNumber(r) {
				break
			}
			j += w
		}
		return j
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	punct := func(r rune) bool { return r >= 0 && !isSpace(r) && !isLetter(r) && !isNumber(r) }
	j := i
	if r == ' ' {
		j = i + w
	}
	if r2, _ := sc.at(j); punct(r2) {
		return sc.run(sc.run(j, punct), isNL)
	}
	// \s*[\r\n]+: the whitespace run up to its last newline
	end := sc.run(i, isSpace)
	lastNL := -1
	for k, c := range sc.s[i:end] {
		if isNL(c) {
			lastNL = i + k + 1
		}
	}
	if lastNL > 0 {
		return lastNL
	}
	return sc.spaces(i)
}

// splitPieces cuts s into the matches of a scanner; between matches there
// is nothing, since both patterns match every rune.
func splitPieces(s string, next func(scanner, int) int) []string {
	sc := scanner{s}
	var out []string
	for i := 0; i < len(s); {
		e := next(sc, i)
		if e <= i { // cannot happen; guard against a stuck scanner
			_, w := sc.at(i)
			e = i + w
		}
		out = append(out, s[i:e])
		i = e
	}
	return out
}
