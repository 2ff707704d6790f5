package ptxsim

import "strings"

type tokKind uint8

const (
	tIdent  tokKind = iota // names, directives, opcodes, registers
	tNumber                // integer and float literals
	tString
	tPunct // one of ( ) { } [ ] , ; : < > + - ! | @ =
)

type token struct {
	kind tokKind
	text string
	line int
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || c == '%' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9')
}

// lex splits PTX text into tokens, dropping comments. "::" inside a name
// (as in .shared::cta) stays part of the name; a single ':' is punctuation.
func lex(src string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, parseErr(line, "", "unterminated block comment")
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' && src[j] != '\n' {
				j++
			}
			if j >= len(src) || src[j] != '"' {
				return nil, parseErr(line, "", "unterminated string")
			}
			toks = append(toks, token{tString, src[i+1 : j], line})
			i = j + 1
		case isIdentStart(c):
			j := i + 1
			for j < len(src) {
				if isIdentChar(src[j]) {
					j++
				} else if src[j] == ':' && j+1 < len(src) && src[j+1] == ':' {
					j += 2
				} else {
					break
				}
			}
			toks = append(toks, token{tIdent, src[i:j], line})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			hex := j < len(src) && (src[j] == 'x' || src[j] == 'X' || src[j] == 'f' || src[j] == 'F' || src[j] == 'd' || src[j] == 'D')
			for j < len(src) {
				d := src[j]
				if isIdentChar(d) && d != '%' && d != '$' {
					j++
				} else if !hex && (d == '+' || d == '-') && (src[j-1] == 'e' || src[j-1] == 'E') {
					j++
				} else {
					break
				}
			}
			toks = append(toks, token{tNumber, src[i:j], line})
			i = j
		case strings.IndexByte("(){}[],;:<>+-!|@=", c) >= 0:
			toks = append(toks, token{tPunct, src[i : i+1], line})
			i++
		default:
			return nil, parseErr(line, "", "unexpected character %q", c)
		}
	}
	return toks, nil
}
