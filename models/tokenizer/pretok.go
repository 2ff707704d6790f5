package tokenizer

import (
	"fmt"
	"strings"
)

// preTokenizer cuts normalized text into the pieces BPE sees; first says
// whether the text is the first segment (Metaspace's "first" scheme).
type preTokenizer func(pieces []string, first bool) []string

func parsePreTokenizer(where string, c *component) (preTokenizer, bool, error) {
	if c == nil {
		return nil, false, nil
	}
	switch c.Type {
	case "Sequence":
		var fs []preTokenizer
		byteLevel := false
		for i := range c.PreTokenizers {
			f, bl, err := parsePreTokenizer(fmt.Sprintf("%s.pretokenizers[%d]", where, i), &c.PreTokenizers[i])
			if err != nil {
				return nil, false, err
			}
			byteLevel = byteLevel || bl
			fs = append(fs, f)
		}
		return func(ps []string, first bool) []string {
			for _, f := range fs {
				ps = f(ps, first)
			}
			return ps
		}, byteLevel, nil
	case "ByteLevel":
		prefix := c.AddPrefixSpace != nil && *c.AddPrefixSpace
		regex := c.UseRegex == nil || *c.UseRegex
		return func(ps []string, first bool) []string {
			var out []string
			for i, p := range ps {
				if prefix && i == 0 && first && !strings.HasPrefix(p, " ") {
					p = " " + p
				}
				parts := []string{p}
				if regex {
					parts = splitPieces(p, scanner.gpt2Next)
				}
				for _, q := range parts {
					out = append(out, toByteLevel(q))
				}
			}
			return out
		}, true, nil
	case "Split":
		if c.Invert {
			return nil, false, fmt.Errorf("%s: Split with invert is not supported", where)
		}
		var cut func(string) []string
		switch {
		case c.Pattern.Regex != nil && *c.Pattern.Regex == gpt2Pattern:
			cut = func(s string) []string { return splitPieces(s, scanner.gpt2Next) }
		case c.Pattern.Regex != nil && *c.Pattern.Regex == llama3Pattern:
			cut = func(s string) []string { return splitPieces(s, scanner.llama3Next) }
		default:
			re, err := c.Pattern.compile(where)
			if err != nil {
				return nil, false, err
			}
			switch c.Behavior {
			case "Isolated", "Removed":
			default:
				return nil, false, fmt.Errorf("%s: Split behavior %q is not supported (want Isolated or Removed)", where, c.Behavior)
			}
			removed := c.Behavior == "Removed"
			cut = func(s string) []string {
				var out []string
				at := 0
				for _, m := range re.FindAllStringIndex(s, -1) {
					if m[0] > at {
						out = append(out, s[at:m[0]])
					}
					if !removed && m[1] > m[0] {
						out = append(out, s[m[0]:m[1]])
					}
					at = m[1]
				}
				if at < len(s) {
					out = append(out, s[at:])
				}
				return out
			}
		}
		if c.Behavior != "Isolated" && (c.Pattern.Regex != nil && (*c.Pattern.Regex == gpt2Pattern || *c.Pattern.Regex == llama3Pattern)) {
			return nil, false, fmt.Errorf("%s: Split behavior %q is not supported with this pattern (want Isolated)", where, c.Behavior)
		}
		return func(ps []string, first bool) []string {
			var out []string
			for _, p := range ps {
				out = append(out, cut(p)...)
			}
			return out
		}, false, nil
	case "Metaspace":
		rep := c.Replacement
		if rep == "" {
			rep = "▁"
		}
		scheme := c.PrependScheme
		if scheme == "" {
			scheme = "always"
			if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
				scheme = "never"
			}
		}
		switch scheme {
		case "always", "first", "never":
		default:
			return nil, false, fmt.Errorf("%s: Metaspace prepend_scheme %q is not supported", where, scheme)
		}
		split := c.Split == nil || *c.Split
		return func(ps []string, first bool) []string {
			var out []string
			for i, p := range ps {
				p = strings.ReplaceAll(p, " ", rep)
				if (scheme == "always" || scheme == "first" && first && i == 0) && !strings.HasPrefix(p, rep) {
					p = rep + p
				}
				if !split {
					out = append(out, p)
					continue
				}
				// split before each replacement character, keeping it
				at := 0
				for j := 1; j < len(p); j++ {
					if strings.HasPrefix(p[j:], rep) {
						out = append(out, p[at:j])
						at = j
					}
				}
				out = append(out, p[at:])
			}
			return out
		}, false, nil
	case "Digits":
		individual := c.Individual
		return func(ps []string, first bool) []string {
			var out []string
			for _, p := range ps {
				at := 0
				sc := scanner{p}
				for i := 0; i < len(p); {
					r, w := sc.at(i)
					if isNumber(r) {
						end := i + w
						if !individual {
							end = sc.run(i, isNumber)
						}
						if i > at {
							out = append(out, p[at:i])
						}
						out = append(out, p[i:end])
						at, i = end, end
						continue
					}
					i += w
				}
				if at < len(p) {
					out = append(out, p[at:])
				}
			}
			return out
		}, false, nil
	}
	return nil, false, fmt.Errorf("%s: pre-tokenizer %q is not supported (want Sequence, ByteLevel, Split, Metaspace or Digits)", where, c.Type)
}
