package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
)

// amxDecode writes the AVX-512 decode of weight rows to bf16 in element
// order, the rows of W the AMX kernel multiplies: for each of rows rows,
// blocks·blockSize values to dst, each code's value times its block's
// scale rounded to bf16 (to nearest even, as toBF16); one row's dst, codes
// and scales are ldd, ldc and lds bytes on from the last's. Per block the
// 16 table values are scaled and rounded (VCVTNE2PS2BF16) into a word
// table; per 16 code bytes each byte widens to a dword whose low word
// indexes its low nibble and high word its high nibble, so one VPERMW
// gives the 32 values in order.
//
// As in the bf16 decode-dot kernels, every vector register is physical,
// since VCVTNE2PS2BF16 is written as bytes.
func amxDecode() {
	const name = "decodeBF16AVX512"
	TEXT(name, NOSPLIT, "func(dst *uint16, ldd int, codes *byte, ldc int, scales *float32, lds int, rows int, blocks int, blockSize int, tab *[16]float32)")
	Doc(name + " writes rows rows of blocks·blockSize scaled values, rounded to bf16, to dst.")
	dRow := Load(Param("dst"), GP64())
	cRow := Load(Param("codes"), GP64())
	sRow := Load(Param("scales"), GP64())
	left := Load(Param("rows"), GP64())
	half := Load(Param("blockSize"), GP64())
	SHRQ(U8(1), half)
	const table, words, low4, high4, hi, idx = 0, 1, 2, 3, 4, 5
	VMOVUPS(Mem{Base: Load(Param("tab"), GP64())}, zmm(table))
	// low4 is 0x0000000f in each dword, high4 0x000f0000.
	VPTERNLOGD(U8(0xff), zmm(low4), zmm(low4), zmm(low4))
	VPSRLD(U8(28), zmm(low4), zmm(low4))
	VPSLLD(U8(16), zmm(low4), zmm(high4))
	d, c, s, sEnd, gEnd := GP64(), GP64(), GP64(), GP64(), GP64()
	Label(name + "_row")
	MOVQ(dRow, d)
	MOVQ(cRow, c)
	MOVQ(sRow, s)
	MOVQ(param("blocks"), sEnd)
	LEAQ(Mem{Base: s, Index: sEnd, Scale: 4}, sEnd)
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
	ADDQ(param("ldd"), dRow)
	ADDQ(param("ldc"), cRow)
	ADDQ(param("lds"), sRow)
	DECQ(left)
	JNZ(LabelRef(name + "_row"))
	VZEROUPPER()
	RET()
}
