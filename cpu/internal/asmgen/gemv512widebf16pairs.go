package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// gemv512WideBF16Pairs writes gemv512WideBF16's kernel for two weight
// rows at a time, as gemv512WidePairs does in float32: rows rows, each
// beside its partner rowc code bytes, srow scale bytes and arow bytes of
// sums further on, x's four vectors per 128 codes loaded once for both.
// Each row builds its own word table at each step.
func gemv512WideBF16Pairs() {
	name := "gemvBF16AVX512x1wp"
	TEXT(name, NOSPLIT, "func(codes *byte, cskip int, scales *float32, sskip int, sbytes int, sstep int, x *uint16, ubytes int, rows int, pf int, tab *[16]float32, acc *float32, rowc int, srow int, arow int)")
	Doc(name + " is gemvBF16AVX512x1w for rows rows and their partners, two rows at a time.")
	c := Load(Param("codes"), GP64())
	s := Load(Param("scales"), GP64())
	// Physical registers: the table, the index constants, two float32
	// temporaries, a word table, a load and four decoded vectors per
	// row, four of x, four sums per row and a fold temporary.
	const (
		table, low4, half, t0, t1 = 0, 1, 2, 3, 4
		words, load, dec          = 5, 7, 9 // +r, +r, +4r
		xv, sum, fold             = 17, 21, 29
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
	rowc := Load(Param("rowc"), GP64())
	arow := Load(Param("arow"), GP64())

	x0, sEnd, gEnd, c2, s2 := GP64(), GP64(), GP64(), GP64(), GP64()
	Label(name + "_row")
	MOVQ(param("x"), x0)
	MOVQ(param("sbytes"), sEnd)
	ADDQ(s, sEnd)
	MOVQ(param("srow"), s2)
	ADDQ(s, s2)
	for i := range 8 {
		VPXORD(zmm(sum+i), zmm(sum+i), zmm(sum+i))
	}
	Label(name + "_step")
	for r, sr := range []reg.Register{s, s2} {
		VMULPS_BCST(Mem{Base: sr}, zmm(table), zmm(t0))
		VMULPS_BCST(Mem{Base: sr, Index: second, Scale: 1}, zmm(table), zmm(t1))
		vcvtne2ps2bf16(words+r, t1, t0) // the low 16 words from t0
	}
	MOVQ(param("ubytes"), gEnd)
	ADDQ(c, gEnd)
	LEAQ(Mem{Base: c, Index: rowc, Scale: 1}, c2)
	Label(name + "_unit")
	PREFETCHT0(Mem{Base: c, Index: pf, Scale: 1})
	PREFETCHT0(Mem{Base: c2, Index: pf, Scale: 1})
	for r, cr := range []reg.Register{c, c2} {
		ld, d := load+r, dec+4*r
		VMOVDQU32(Mem{Base: cr}, zmm(ld))
		for t := 1; t < 4; t++ {
			VPSRLW(U8(4*t), zmm(ld), zmm(d+t))
		}
		// Each index is its nibble with bit 4 set in the upper 16 words
		// (0xea: a&b | c); after a shift by 12 only the nibble is left.
		VPTERNLOGD(U8(0xea), zmm(half), zmm(low4), zmm(ld))
		VPTERNLOGD(U8(0xea), zmm(half), zmm(low4), zmm(d+1))
		VPTERNLOGD(U8(0xea), zmm(half), zmm(low4), zmm(d+2))
		VPORD(zmm(half), zmm(d+3), zmm(d+3))
		VPERMW(zmm(words+r), zmm(ld), zmm(d))
		for t := 1; t < 4; t++ {
			VPERMW(zmm(words+r), zmm(d+t), zmm(d+t))
		}
	}
	for t := range 4 {
		VMOVDQU32(Mem{Base: x0, Disp: 64 * t}, zmm(xv+t))
		vdpbf16ps(sum+t, dec+t, xv+t)
		vdpbf16ps(sum+4+t, dec+4+t, xv+t)
	}
	ADDQ(U8(64), c)
	ADDQ(U8(64), c2)
	ADDQ(U32(256), x0)
	CMPQ(c, gEnd)
	JB(LabelRef(name + "_unit"))
	ADDQ(param("sstep"), s)
	ADDQ(param("sstep"), s2)
	CMPQ(s, sEnd)
	JB(LabelRef(name + "_step"))

	for r := range 2 {
		b := sum + 4*r
		VADDPS(zmm(b+1), zmm(b), zmm(b))
		VADDPS(zmm(b+3), zmm(b+2), zmm(b+2))
		VADDPS(zmm(b+2), zmm(b), zmm(b))
		o := Mem{Base: out}
		if r == 1 {
			o = Mem{Base: out, Index: arow, Scale: 1}
		}
		addFolded(zmm(b), zmm(fold), o)
	}
	ADDQ(U8(32), out)
	ADDQ(param("cskip"), c)
	ADDQ(param("sskip"), s)
	DECQ(left)
	JNZ(LabelRef(name + "_row"))
	VZEROUPPER()
	RET()
}
