package asmsim

import (
	"fmt"
	"strings"
	"testing"
)

func byteLines(b ...byte) string {
	var s strings.Builder
	for _, x := range b {
		fmt.Fprintf(&s, "\tBYTE $0x%02x\n", x)
	}
	return s.String()
}

// TestParseEVEX decodes the kernels' byte-encoded BF16 instructions from
// the bytes alone, including registers above Z15 (EVEX.R', X, V'), and
// splits back-to-back instructions separated only by comments.
func TestParseEVEX(t *testing.T) {
	src := "TEXT ·f(SB), NOSPLIT, $0-0\n" +
		"\t// VDPBF16PS Z13, Z11, Z17 (the comment is not trusted)\n" + byteLines(0x62, 0xc2, 0x26, 0x48, 0x52, 0xcd) +
		"\t// next\n" + byteLines(0x62, 0xf2, 0x5f, 0x48, 0x72, 0xeb) +
		"\tRET\n"
	p, err := Parse("t.s", src)
	if err != nil {
		t.Fatal(err)
	}
	in := p.Funcs["f"].Insts
	if len(in) != 3 || in[0].Text != "VDPBF16PS Z13, Z11, Z17" || in[0].Line != 3 ||
		in[1].Text != "VCVTNE2PS2BF16 Z3, Z4, Z5" || in[1].Line != 10 || in[2].Op != "RET" {
		t.Fatalf("decoded %+v", in)
	}
	for _, bad := range [][]byte{
		{0x62, 0xf2, 0x5f, 0x48, 0x73, 0xeb},       // another opcode
		{0x62, 0xf2, 0x5e, 0x48, 0x72, 0xeb},       // VCVTNE2PS2BF16's opcode with VDPBF16PS's prefix
		{0x62, 0xf2, 0x5f, 0x49, 0x72, 0xeb},       // masked
		{0x62, 0xf2, 0x5f, 0x28, 0x72, 0xeb},       // 256-bit
		{0x62, 0xf2, 0x5f, 0x48, 0x72, 0x2b},       // memory operand
		{0x62, 0xf1, 0x5f, 0x48, 0x72, 0xeb},       // map 0F
		{0x62, 0xf2, 0xdf, 0x48, 0x72, 0xeb},       // W1
		{0x62, 0xf2, 0x5f, 0x48, 0x72},             // short
		{0x90, 0x90, 0x90, 0x90, 0x90, 0x90},       // not EVEX
		{0x62, 0xf2, 0x5f, 0x48, 0x72, 0xeb, 0x90}, // a stray byte after one
	} {
		_, err := Parse("t.s", "TEXT ·f(SB), NOSPLIT, $0-0\n"+byteLines(bad...)+"\tRET\n")
		if err == nil || !strings.Contains(err.Error(), "t.s:2:") && !strings.Contains(err.Error(), "t.s:8:") {
			t.Errorf("% x: error %v, want one naming its line", bad, err)
		}
	}
}
