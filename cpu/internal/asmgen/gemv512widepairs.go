package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// gemv512WidePairs writes gemv512Wide's kernel for two weight rows at a
// time: each of x's eight vectors per 128 codes is loaded once into a
// register for both rows, which halves the loads beside the decode (the
// one-row kernel takes every x vector as a memory operand of its
// multiply-add). It runs rows rows, each with a partner rowc code bytes,
// srow scale bytes and arow bytes of sums further on (the driver pairs
// rows half a band apart: two rows in one 4 KiB page, read side by side,
// are slower from memory than two in different pages). Other arguments
// and x's order as gemv512Wide.
func gemv512WidePairs(pair bool) {
	name := "gemvAVX512x1wp"
	if !pair {
		name = "gemvAVX512x1wbp"
	}
	TEXT(name, NOSPLIT, "func(codes *byte, cskip int, scales *float32, sskip int, sbytes int, sstep int, x *float32, ubytes int, rows int, pf int, tab *[16]float32, acc *float32, rowc int, srow int, arow int)")
	Doc(name + " is gemvAVX512x1w" + map[bool]string{true: "", false: "b"}[pair] + " for rows rows and their partners, two rows at a time.")
	c := Load(Param("codes"), GP64())
	s := Load(Param("scales"), GP64())
	cb := loadCodebook512(Load(Param("tab"), GP64()))
	pf := Load(Param("pf"), GP64())
	out := Load(Param("acc"), GP64())
	left := Load(Param("rows"), GP64())
	rowc := Load(Param("rowc"), GP64())
	rows := Load(Param("srow"), GP64()) // the scale bytes to the partner
	arow := Load(Param("arow"), GP64())
	var upper reg.OpmaskVirtual
	if pair {
		upper = K()
		m := GP32()
		MOVL(U32(0xff00), m)
		KMOVW(m, upper)
	}
	zero := ZMM()
	VPXORD(zero, zero, zero)
	var total, p [2][2]reg.VecVirtual
	for r := range 2 {
		total[r] = [2]reg.VecVirtual{ZMM(), ZMM()}
		p[r] = [2]reg.VecVirtual{ZMM(), ZMM()}
	}
	codes := [2]reg.VecVirtual{ZMM(), ZMM()}
	sv := [2]reg.VecVirtual{ZMM(), ZMM()}
	idx, v, xv, hi := ZMM(), ZMM(), ZMM(), ZMM()

	x0, sEnd, gEnd, c2 := GP64(), GP64(), GP64(), GP64()
	Label(name + "_row")
	MOVQ(param("x"), x0)
	MOVQ(param("sbytes"), sEnd)
	ADDQ(s, sEnd)
	for r := range 2 {
		for _, t := range total[r] {
			VMOVAPS(zero, t)
		}
	}
	Label(name + "_step")
	for r := range 2 {
		at := Mem{Base: s}
		if r == 1 {
			at = Mem{Base: s, Index: rows, Scale: 1}
		}
		VBROADCASTSS(at, sv[r])
		if pair {
			VBROADCASTSS(at.Offset(4), hi)
			VBLENDMPS(hi, sv[r], upper, sv[r])
		}
	}
	MOVQ(param("ubytes"), gEnd)
	ADDQ(c, gEnd)
	LEAQ(Mem{Base: c, Index: rowc, Scale: 1}, c2)
	Label(name + "_unit")
	PREFETCHT0(Mem{Base: c, Index: pf, Scale: 1})
	PREFETCHT0(Mem{Base: c2, Index: pf, Scale: 1})
	VMOVDQU32(Mem{Base: c}, codes[0])
	VMOVDQU32(Mem{Base: c2}, codes[1])
	for t := range 8 {
		VMOVUPS(Mem{Base: x0, Disp: 64 * t}, xv)
		for r := range 2 {
			src := codes[r]
			if t > 0 {
				VPSRLD(U8(4*t), codes[r], idx)
				src = idx
			}
			VPERMPS(cb.tab, src, v)
			if t%4 == 0 {
				VMULPS(xv, v, p[r][t/4])
			} else {
				VFMADD231PS(xv, v, p[r][t/4])
			}
		}
	}
	for r := range 2 {
		VFMADD231PS(sv[r], p[r][0], total[r][0])
		VFMADD231PS(sv[r], p[r][1], total[r][1])
	}
	ADDQ(U8(64), c)
	ADDQ(U8(64), c2)
	ADDQ(U32(512), x0)
	CMPQ(c, gEnd)
	JB(LabelRef(name + "_unit"))
	ADDQ(param("sstep"), s)
	CMPQ(s, sEnd)
	JB(LabelRef(name + "_step"))

	for r := range 2 {
		VADDPS(total[r][1], total[r][0], total[r][0])
		o := Mem{Base: out}
		if r == 1 {
			o = Mem{Base: out, Index: arow, Scale: 1}
		}
		addFolded(total[r][0], ZMM(), o)
	}
	ADDQ(U8(32), out)
	ADDQ(param("cskip"), c)
	ADDQ(param("sskip"), s)
	DECQ(left)
	JNZ(LabelRef(name + "_row"))
	VZEROUPPER()
	RET()
}
