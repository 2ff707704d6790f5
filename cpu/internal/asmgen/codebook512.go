package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// codebook512 holds the whole 16-entry table in one zmm register: VPERMPS
// on a zmm reads the low four bits of each index, so one instruction
// decodes 16 codes with no blend.
type codebook512 struct{ tab reg.VecVirtual }

func loadCodebook512(tab reg.Register) codebook512 {
	c := codebook512{ZMM()}
	VMOVUPS(Mem{Base: tab}, c.tab)
	return c
}

// decode zero-extends the 16 code bytes at src (32 codes) to dwords and
// sets even to the values of their low nibbles (codes 0, 2, …, 30) and
// odd to those of their high nibbles (codes 1, 3, …, 31). idx is
// clobbered.
func (c codebook512) decode(src Mem, idx, even, odd reg.VecVirtual) {
	VPMOVZXBD(src, idx)
	VPERMPS(c.tab, idx, even)
	VPSRLD(U8(4), idx, idx)
	VPERMPS(c.tab, idx, odd)
}

// addFolded adds the 16 lanes of sum, folded to 8 (lane j plus lane j+8),
// to the 8 float32 values at o, with f as a temporary: the 8-lane layout
// the AVX2 kernels leave in acc. The fold stays in zmm form: a VEX (ymm)
// form could only use the low 16 registers, which the sums need not be.
func addFolded(sum, f reg.Vec, o Mem) {
	VSHUFF64X2(U8(0xee), sum.AsZ(), sum.AsZ(), f.AsZ())
	VADDPS(sum.AsZ(), f.AsZ(), f.AsZ())
	VADDPS(o, f.AsY(), f.AsY())
	VMOVUPS(f.AsY(), o)
}
