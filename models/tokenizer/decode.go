package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder turns tokens back into text pieces, as tokenizers' decoders do:
// each works on the list of token strings.
type decoder func(tokens []string) []string

func parseDecoder(where string, c *component) (decoder, error) {
	if c == nil {
		return func(ts []string) []string { return ts }, nil
	}
	switch c.Type {
	case "Sequence":
		var ds []decoder
		for i := range c.Decoders {
			d, err := parseDecoder(fmt.Sprintf("%s.decoders[%d]", where, i), &c.Decoders[i])
			if err != nil {
				return nil, err
			}
			ds = append(ds, d)
		}
		return func(ts []string) []string {
			for _, d := range ds {
				ts = d(ts)
			}
			return ts
		}, nil
	case "ByteLevel":
		return func(ts []string) []string {
			return []string{strings.ToValidUTF8(string(fromByteLevel(strings.Join(ts, ""))), "\uFFFD")}
		}, nil
	case "Replace":
		re, err := c.Pattern.compile(where)
		if err != nil {
			return nil, err
		}
		content := c.Content
		return func(ts []string) []string {
			out := make([]string, len(ts))
			for i, t := range ts {
				out[i] = re.ReplaceAllLiteralString(t, content)
			}
			return out
		}, nil
	case "ByteFallback":
		return byteFallback, nil
	case "Fuse":
		return func(ts []string) []string { return []string{strings.Join(ts, "")} }, nil
	case "Strip":
		content, start, stop := c.Content, c.Start, c.Stop
		return func(ts []string) []string {
			out := make([]string, len(ts))
			for i, t := range ts {
				for range start {
					t2, ok := strings.CutPrefix(t, content)
					if !ok {
						break
					}
					t = t2
				}
				for range stop {
					t2, ok := strings.CutSuffix(t, content)
					if !ok {
						break
					}
					t = t2
				}
				out[i] = t
			}
			return out
		}, nil
	case "Metaspace":
		rep := c.Replacement
		if rep == "" {
			rep = "▁"
		}
		strip := c.PrependScheme != "never" && !(c.PrependScheme == "" && c.AddPrefixSpace != nil && !*c.AddPrefixSpace)
		return func(ts []string) []string {
			out := make([]string, len(ts))
			for i, t := range ts {
				t = strings.ReplaceAll(t, rep, " ")
				if i == 0 && strip {
					t = strings.TrimPrefix(t, " ")
				}
				out[i] = t
			}
			return out
		}, nil
	}
	return nil, fmt.Errorf("%s: decoder %q is not supported (want Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip or Metaspace)", where, c.Type)
}

// byteFallback turns runs of <0xXX> tokens into the text their bytes
// spell, or one U+FFFD per byte when they are not valid UTF-8.
func byteFallback(ts []string) []string {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range ts {
		if b, ok := byteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// byteToken parses "<0xXX>".
func byteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	if err != nil || strings.ToUpper(t[3:5]) != t[3:5] {
		return 0, false
	}
	return byte(v), true
}
