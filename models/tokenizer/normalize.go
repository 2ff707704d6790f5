package tokenizer

import (
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a piece of text before it is split.
type normalizer func(string) string

// pattern is a tokenizer.json pattern: {"String": s} or {"Regex": r}.
type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func (p pattern) compile(where string) (*regexp.Regexp, error) {
	switch {
	case p.String != nil:
		return regexp.MustCompile(regexp.QuoteMeta(*p.String)), nil
	case p.Regex != nil:
		re, err := regexp.Compile(*p.Regex)
		if err != nil {
			return nil, fmt.Errorf("%s: pattern %q is not supported by Go's regexp: %v", where, *p.Regex, err)
		}
		return re, nil
	}
	return nil, fmt.Errorf("%s: pattern needs String or Regex", where)
}

func parseNormalizer(where string, c *component) (normalizer, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "Sequence":
		var fs []normalizer
		for i := range c.Normalizers {
			f, err := parseNormalizer(fmt.Sprintf("%s.normalizers[%d]", where, i), &c.Normalizers[i])
			if err != nil {
				return nil, err
			}
			if f != nil {
				fs = append(fs, f)
			}
		}
		return func(s string) string {
			for _, f := range fs {
				s = f(s)
			}
			return s
		}, nil
	case "Prepend":
		p := c.Prepend
		return func(s string) string {
			if s == "" {
				return s
			}
			return p + s
		}, nil
	case "Replace":
		re, err := c.Pattern.compile(where)
		if err != nil {
			return nil, err
		}
		content := c.Content
		return func(s string) string { return re.ReplaceAllLiteralString(s, content) }, nil
	case "NFC":
		return norm.NFC.String, nil
	case "NFD":
		return norm.NFD.String, nil
	case "NFKC":
		return norm.NFKC.String, nil
	case "NFKD":
		return norm.NFKD.String, nil
	case "Lowercase":
		return strings.ToLower, nil
	case "Strip":
		l, r := c.StripLeft == nil || *c.StripLeft, c.StripRight == nil || *c.StripRight
		return func(s string) string {
			if l {
				s = strings.TrimLeftFunc(s, isSpace)
			}
			if r {
				s = strings.TrimRightFunc(s, isSpace)
			}
			return s
		}, nil
	}
	return nil, fmt.Errorf("%s: normalizer %q is not supported (want Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase or Strip)", where, c.Type)
}
