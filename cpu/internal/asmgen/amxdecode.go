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
// indexes its low nibble and high word its high nibble (the dword or'ed
// with itself shifted by 12, masked to 0x000f000f: one VPTERNLOGD), so one
// VPERMW gives the 32 values in order.
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
	const table, words, nibbles, hi, idx = 0, 1, 2, 3, 4
	VMOVUPS(Mem{Base: Load(Param("tab"), GP64())}, zmm(table))
	// nibbles is 0x000f000f in each dword.
	VPTERNLOGD(U8(0xff), zmm(nibbles), zmm(nibbles), zmm(nibbles))
	VPSRLD(U8(28), zmm(nibbles), zmm(nibbles))
	VPSLLD(U8(16), zmm(nibbles), zmm(hi))
	VPORD(zmm(hi), zmm(nibbles), zmm(nibbles))
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
	// idx = (idx | hi) & nibbles (0xa8: (a|b)&c).
	VPTERNLOGD(U8(0xa8), zmm(nibbles), zmm(hi), zmm(idx))
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
