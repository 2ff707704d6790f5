package main

import (
	"bytes"
	"testing"

	"github.com/mmcloughlin/avo/reg"
)

// The encodings were checked against llvm-mc -show-encoding
// -mattr=+amx-bf16,+amx-tile.
func TestVEXAMX(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want []byte
	}{
		{"ldtilecfg (%rax)", ldtilecfgBytes(reg.RAX), []byte{0xc4, 0xe2, 0x78, 0x49, 0x00}},
		{"ldtilecfg (%r8)", ldtilecfgBytes(reg.R8), []byte{0xc4, 0xc2, 0x78, 0x49, 0x00}},
		{"tilerelease", vexAMX(0, 0x49, 0xc0, 0, 0, 0), []byte{0xc4, 0xe2, 0x78, 0x49, 0xc0}},
		{"tilezero %tmm7", tilezeroBytes(7), []byte{0xc4, 0xe2, 0x7b, 0x49, 0xf8}},
		{"tileloadd (%rax,%rcx), %tmm4", tileBytes(3, 4, reg.RAX, reg.RCX), []byte{0xc4, 0xe2, 0x7b, 0x4b, 0x24, 0x08}},
		{"tileloadd (%r8,%r9), %tmm5", tileBytes(3, 5, reg.R8, reg.R9), []byte{0xc4, 0x82, 0x7b, 0x4b, 0x2c, 0x08}},
		{"tileloadd (%rsi,%rcx), %tmm6", tileBytes(3, 6, reg.RSI, reg.RCX), []byte{0xc4, 0xe2, 0x7b, 0x4b, 0x34, 0x0e}},
		{"tilestored %tmm1, (%rdx,%rcx)", tileBytes(2, 1, reg.RDX, reg.RCX), []byte{0xc4, 0xe2, 0x7a, 0x4b, 0x0c, 0x0a}},
		{"tilestored %tmm3, (%r10,%r9)", tileBytes(2, 3, reg.R10, reg.R9), []byte{0xc4, 0x82, 0x7a, 0x4b, 0x1c, 0x0a}},
		{"tdpbf16ps %tmm6, %tmm4, %tmm0", tdpbf16psBytes(0, 4, 6), []byte{0xc4, 0xe2, 0x4a, 0x5c, 0xc4}},
		{"tdpbf16ps %tmm7, %tmm5, %tmm3", tdpbf16psBytes(3, 5, 7), []byte{0xc4, 0xe2, 0x42, 0x5c, 0xdd}},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s: % x, want % x", c.name, c.got, c.want)
		}
	}
}
