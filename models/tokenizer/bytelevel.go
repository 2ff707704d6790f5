package tokenizer

// byteRunes maps each byte to the printable rune GPT-2's bytes_to_unicode
// gives it; runeBytes is the inverse.
var byteRunes, runeBytes = func() ([256]rune, map[rune]byte) {
	var br [256]rune
	rb := map[rune]byte{}
	n := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			br[b] = rune(b)
		} else {
			br[b] = rune(256 + n)
			n++
		}
		rb[br[b]] = byte(b)
	}
	return br, rb
}()

// toByteLevel maps the bytes of s to their printable runes.
func toByteLevel(s string) string {
	out := make([]rune, 0, len(s))
	for i := 0; i < len(s); i++ {
		out = append(out, byteRunes[s[i]])
	}
	return string(out)
}

// fromByteLevel maps printable runes back to bytes; a rune outside the
// map keeps its UTF-8 bytes.
func fromByteLevel(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if b, ok := runeBytes[r]; ok {
			out = append(out, b)
		} else {
			out = append(out, string(r)...)
		}
	}
	return out
}
