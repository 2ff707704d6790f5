package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
)

// gemv512WideBF16 writes the one-row AVX-512 BF16 decode-dot: 128 codes
// from one 64-byte load, as gemv512Wide does in float32, at half its
// instructions. Word j of the load holds codes 4j … 4j+3; shifting it by
// 4t and looking it up with VPERMW (which reads the low five bits of each
// word) gives vector t, whose word j is the bf16 weight of code 4j+t, and
// VDPBF16PS adds its products with x in pairs to 16 float32 sums.
//
// The word table is that of gemv512BF16: at each scale step the 16 values
// times the step's two scales, rounded to bf16, entries 0..15 for the
// first 64 codes of a load and 16..31 for the second (the same scale twice
// when a block has 128 codes or more); bit 4 of each index picks the half
// for its word. A step is a block (sstep = 4, ubytes = B/2) or, with
// 64-code blocks, a load's two blocks (sstep = 8, ubytes = 64). Other
// arguments as gemv512BF16, with x, per 128 codes, vector t's 32 values
// (code 4j+t at 32t+j) and rowc unused.
func gemv512WideBF16() {
	name := "gemvBF16AVX512x1w"
	TEXT(name, NOSPLIT, "func(codes *byte, cskip int, scales *float32, sskip int, sbytes int, sstep int, x *uint16, ubytes int, rows int, pf int, tab *[16]float32, acc *float32, rowc int)")
	Doc(name + " is the AVX-512 BF16 fused decode-dot for a batch of 1, 128 codes per load.")
	c := Load(Param("codes"), GP64())
	s := Load(Param("scales"), GP64())
	// Physical registers, as in gemv512BF16: the table, the index
	// constants, two float32 temporaries, the word table, the load, four
	// decoded vectors, four of x, four sums and a fold temporary.
	const (
		table, low4, half, t0, t1, words, load = 0, 1, 2, 3, 4, 5, 6
		dec, xv, sum, fold                     = 7, 11, 15, 19
	)
	VMOVUPS(Mem{Base: Load(Param("tab"), GP64())}, zmm(table))
	VPTERNLOGD(U8(0xff), zmm(low4), zmm(low4), zmm(low4))
	VPSRLW(U8(15), zmm(low4), zmm(half))
	VPSLLW(U8(4), zmm(half), zmm(half))
	VPXORD(zmm(t0), zmm(t0), zmm(t0))
	VINSERTI64X4(U8(0), zmm(t0).AsY(), zmm(half), zmm(half))
	VPSRLW(U8(12), zmm(low4), zmm(low4))
	pf := Load(Param("pf"), GP64())
	out := Load(Param("acc"), GP64())
	left := Load(Param("rows"), GP64())
	second := Load(Param("sstep"), GP64())
	SUBQ(U8(4), second) // offset of the second block's scale: 0 or 4

	x0, sEnd, gEnd := GP64(), GP64(), GP64()
	Label(name + "_row")
	MOVQ(param("x"), x0)
	MOVQ(param("sbytes"), sEnd)
	ADDQ(s, sEnd)
	for t := range 4 {
		VPXORD(zmm(sum+t), zmm(sum+t), zmm(sum+t))
	}
	Label(name + "_step")
	VMULPS_BCST(Mem{Base: s}, zmm(table), zmm(t0))
	VMULPS_BCST(Mem{Base: s, Index: second, Scale: 1}, zmm(table), zmm(t1))
	vcvtne2ps2bf16(words, t1, t0) // the low 16 words from t0
	MOVQ(param("ubytes"), gEnd)
	ADDQ(c, gEnd)
	Label(name + "_unit")
	PREFETCHT0(Mem{Base: c, Index: pf, Scale: 1})
	VMOVDQU32(Mem{Base: c}, zmm(load))
	for t := 1; t < 4; t++ {
		VPSRLW(U8(4*t), zmm(load), zmm(dec+t))
	}
	// Each index is its nibble with bit 4 set in the upper 16 words
	// (0xea: a&b | c); after a shift by 12 only the nibble is left.
	VPTERNLOGD(U8(0xea), zmm(half), zmm(low4), zmm(load))
	VPTERNLOGD(U8(0xea), zmm(half), zmm(low4), zmm(dec+1))
	VPTERNLOGD(U8(0xea), zmm(half), zmm(low4), zmm(dec+2))
	VPORD(zmm(half), zmm(dec+3), zmm(dec+3))
	VPERMW(zmm(words), zmm(load), zmm(dec))
	for t := 1; t < 4; t++ {
		VPERMW(zmm(words), zmm(dec+t), zmm(dec+t))
	}
	for t := range 4 {
		VMOVDQU32(Mem{Base: x0, Disp: 64 * t}, zmm(xv+t))
		vdpbf16ps(sum+t, dec+t, xv+t)
	}
	ADDQ(U8(64), c)
	ADDQ(U32(256), x0)
	CMPQ(c, gEnd)
	JB(LabelRef(name + "_unit"))
	ADDQ(param("sstep"), s)
	CMPQ(s, sEnd)
	JB(LabelRef(name + "_step"))

	VADDPS(zmm(sum+1), zmm(sum), zmm(sum))
	VADDPS(zmm(sum+3), zmm(sum+2), zmm(sum+2))
	VADDPS(zmm(sum+2), zmm(sum), zmm(sum))
	addFolded(zmm(sum), zmm(fold), Mem{Base: out})
	ADDQ(U8(32), out)
	ADDQ(param("cskip"), c)
	ADDQ(param("sskip"), s)
	DECQ(left)
	JNZ(LabelRef(name + "_row"))
	VZEROUPPER()
	RET()
}
