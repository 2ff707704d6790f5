package checkpoint

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// The rules below are shared by the reader and the writer, so the writer
// refuses exactly what the reader would reject: a file written here always
// reads back.

// tensorSize returns the byte length of a tensor of dtype dt and the given
// shape, or why no file may hold it.
func tensorSize(dt DType, shape []int64) (int64, string) {
	if dt.Size() == 0 {
		return 0, fmt.Sprintf("unknown dtype %q", string(dt))
	}
	elems := int64(1)
	for _, d := range shape {
		if d < 0 || d > math.MaxInt32 {
			return 0, fmt.Sprintf("shape %v has a dimension out of range", shape)
		}
		if d != 0 && elems > math.MaxInt64/8/d {
			return 0, fmt.Sprintf("shape %v is too large", shape)
		}
		elems *= d
	}
	return elems * int64(dt.Size()), ""
}

// nameProblem says what is wrong with a tensor name, or "".
func nameProblem(name string) string {
	switch {
	case name == "__metadata__":
		return "the name __metadata__ is reserved"
	case !utf8.ValidString(name):
		return "the name is not valid UTF-8 (JSON would turn its bad bytes into U+FFFD)"
	}
	return ""
}

// firstBadString returns the text, without quotes, of the first JSON
// string in js that is not valid UTF-8 or holds an unpaired surrogate
// escape: encoding/json turns both into U+FFFD, which would silently
// rename a tensor (and make two names collide). It returns nil when all
// are sound.
func firstBadString(js []byte) []byte {
	for i := 0; i < len(js); i++ {
		if js[i] != '"' {
			continue
		}
		start, bad := i, false
		for i++; i < len(js) && js[i] != '"'; {
			switch c := js[i]; {
			case c == '\\' && i+5 < len(js) && js[i+1] == 'u':
				r := hex4(js[i+2 : i+6])
				i += 6
				switch {
				case r >= 0xD800 && r < 0xDC00:
					if i+5 < len(js) && js[i] == '\\' && js[i+1] == 'u' {
						if lo := hex4(js[i+2 : i+6]); lo >= 0xDC00 && lo < 0xE000 {
							i += 6
							continue
						}
					}
					bad = true
				case r >= 0xDC00 && r < 0xE000:
					bad = true
				}
			case c == '\\':
				i += 2
			case c < utf8.RuneSelf:
				i++
			default:
				r, n := utf8.DecodeRune(js[i:])
				if r == utf8.RuneError && n == 1 {
					bad = true
				}
				i += n
			}
		}
		if bad {
			return js[start+1 : min(i, len(js))]
		}
	}
	return nil
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) int {
	v := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | int(c-'A'+10)
		default:
			return -1
		}
	}
	return v
}
