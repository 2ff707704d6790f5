package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
)

// amxDecode writes the AVX-512 decode of weight rows to bf16 in element
// order, the rows of W the AMX kernel multiplies: blocks·blockSize values
// to dst, each code's value times its block's scale rounded to bf16 (to
// nearest even, as toBF16). Per block the 16 table values are scaled and
// rounded (VCVTNE2PS2BF16) into a word table; per 16 code bytes each byte
// widens to a dword whose low word indexes its low nibble and high word
// its high nibble, so one VPERMW gives the 32 values in order.
//
// As in the bf16 decode-dot kernels, every vector register is physical,
// since VCVTNE2PS2BF16 is written as bytes.
func amxDecode() {
	const name = "decodeBF16AVX512"
	TEXT(name, NOSPLIT, "func(dst *uint16, codes *byte, scales *float32, blocks int, blockSize int, tab *[16]float32)")
	Doc(name + " writes blocks·blockSize scaled values, rounded to bf16, to dst.")
	d := Load(Param("dst"), GP64())
	c := Load(Param("codes"), GP64())
	s := Load(Param("scales"), GP64())
	nb := Load(Param("blocks"), GP64())
	sEnd := GP64()
	LEAQ(Mem{Base: s, Index: nb, Scale: 4}, sEnd)
	half := Load(Param("blockSize"), GP64())
	SHRQ(U8(1), half)
	const table, words, low4, high4, hi, idx = 0, 1, 2, 3, 4, 5
	VMOVUPS(Mem{Base: Load(Param("tab"), GP64())}, zmm(table))
	// low4 is 0x0000000f in each dword, high4 0x000f0000.
	VPTERNLOGD(U8(0xff), zmm(low4), zmm(low4), zmm(low4))
	VPSRLD(U8(28), zmm(low4), zmm(low4))
	VPSLLD(U8(16), zmm(low4), zmm(high4))
	gEnd := GP64()
	Label(name + "_block")
	VMULPS_BCST(Mem{Base: s}, zmm(table), zmm(hi))
	vcvtne2ps2bf16(words, hi, hi)
	MOVQ(c, gEnd)
	ADDQ(half, gEnd)
	Label(name + "_group")
	VPMOVZXBD(Mem{Base: c}, zmm(idx))
	VPSLLD(U8(12), zmm(idx), zmm(hi))
	VPANDD(zmm(low4), zmm(idx), zmm(idx))
	VPANDD(zmm(high4), zmm(hi), zmm(hi))
	VPORD(zmm(hi), zmm(idx), zmm(idx))
	VPERMW(zmm(words), zmm(idx), zmm(idx))
	VMOVDQU32(zmm(idx), Mem{Base: d})
	ADDQ(U8(16), c)
	ADDQ(U8(64), d)
	CMPQ(c, gEnd)
	JB(LabelRef(name + "_group"))
	ADDQ(U8(4), s)
	CMPQ(s, sEnd)
	JB(LabelRef(name + "_block"))
	VZEROUPPER()
	RET()
}
