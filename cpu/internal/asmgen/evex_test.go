package main

import "testing"

// The encodings were checked against llvm-mc -show-encoding.
func TestEVEXBF16(t *testing.T) {
	for _, c := range []struct {
		pp, op          byte
		dst, src1, src2 int
		want            [6]byte
	}{
		{0x2, 0x52, 17, 2, 29, [6]byte{0x62, 0x82, 0x6e, 0x48, 0x52, 0xcd}}, // vdpbf16ps zmm17, zmm2, zmm29
		{0x3, 0x72, 9, 20, 3, [6]byte{0x62, 0x72, 0x5f, 0x40, 0x72, 0xcb}},  // vcvtne2ps2bf16 zmm9, zmm20, zmm3
		{0x2, 0x52, 0, 31, 8, [6]byte{0x62, 0xd2, 0x06, 0x40, 0x52, 0xc0}},  // vdpbf16ps zmm0, zmm31, zmm8
	} {
		if got := evexBF16(c.pp, c.op, c.dst, c.src1, c.src2); got != c.want {
			t.Errorf("evexBF16(%#x, %#x, %d, %d, %d) = % x, want % x", c.pp, c.op, c.dst, c.src1, c.src2, got, c.want)
		}
	}
}
