package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// gemv512Wide writes a one-row AVX-512 kernel that decodes 128 codes from
// one 64-byte load with no widening shuffle: dword j of the load holds
// codes 8j … 8j+7, and VPERMPS reads the low four bits of each dword, so
// shifting the load by 4t and looking it up gives vector t, whose lane j
// is code 8j+t.
//
// With pair (64-code blocks) lanes 0-7 are one block and 8-15 the next, so
// each 128 codes take one scale vector, the two scales blended; a step is
// the two blocks (ubytes = 64, sstep = 8). Otherwise (blocks of 128 codes
// or more) a step is one block of ubytes code bytes and one scale (sstep =
// 4). Other arguments as gemv512; x is, per 128 codes, vector t's 16
// values (code 8j+t at 16t+j). Each 128 codes' eight products are summed in
// two chains of four, and each goes to its own total by the scale vector.
func gemv512Wide(pair bool) {
	name := "gemvAVX512x1w"
	if !pair {
		name += "b"
	}
	TEXT(name, NOSPLIT, "func(codes *byte, cskip int, scales *float32, sskip int, sbytes int, sstep int, x *float32, ubytes int, rows int, pf int, tab *[16]float32, acc *float32, rowc int)")
	if pair {
		Doc(name + " is the AVX-512 fused decode-dot for a batch of 1 over 64-code blocks, 128 codes per load.")
	} else {
		Doc(name + " is the AVX-512 fused decode-dot for a batch of 1 over blocks of 128 codes or more, 128 codes per load.")
	}
	c := Load(Param("codes"), GP64())
	s := Load(Param("scales"), GP64())
	cb := loadCodebook512(Load(Param("tab"), GP64()))
	pf := Load(Param("pf"), GP64())
	out := Load(Param("acc"), GP64())
	left := Load(Param("rows"), GP64())
	var upper reg.OpmaskVirtual
	if pair {
		upper = K()
		m := GP32()
		MOVL(U32(0xff00), m)
		KMOVW(m, upper)
	}
	zero := ZMM()
	VPXORD(zero, zero, zero)
	total := [2]reg.VecVirtual{ZMM(), ZMM()}
	codes, idx, v, sv, hi := ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	p := [2]reg.VecVirtual{ZMM(), ZMM()}

	x0, sEnd, gEnd := GP64(), GP64(), GP64()
	Label(name + "_row")
	MOVQ(param("x"), x0)
	MOVQ(param("sbytes"), sEnd)
	ADDQ(s, sEnd)
	for _, t := range total {
		VMOVAPS(zero, t)
	}
	Label(name + "_step")
	if pair {
		VBROADCASTSS(Mem{Base: s}, sv)
		VBROADCASTSS(Mem{Base: s, Disp: 4}, hi)
		VBLENDMPS(hi, sv, upper, sv)
	} else {
		VBROADCASTSS(Mem{Base: s}, sv)
	}
	MOVQ(param("ubytes"), gEnd)
	ADDQ(c, gEnd)
	Label(name + "_unit")
	PREFETCHT0(Mem{Base: c, Index: pf, Scale: 1})
	VMOVDQU32(Mem{Base: c}, codes)
	for t := range 8 {
		src := codes
		if t > 0 {
			VPSRLD(U8(4*t), codes, idx)
			src = idx
		}
		VPERMPS(cb.tab, src, v)
		xm := Mem{Base: x0, Disp: 64 * t}
		if t%4 == 0 {
			VMULPS(xm, v, p[t/4])
		} else {
			VFMADD231PS(xm, v, p[t/4])
		}
	}
	VFMADD231PS(sv, p[0], total[0])
	VFMADD231PS(sv, p[1], total[1])
	ADDQ(U8(64), c)
	ADDQ(U32(512), x0)
	CMPQ(c, gEnd)
	JB(LabelRef(name + "_unit"))
	ADDQ(param("sstep"), s)
	CMPQ(s, sEnd)
	JB(LabelRef(name + "_step"))

	VADDPS(total[1], total[0], total[0])
	addFolded(total[0], ZMM(), Mem{Base: out})
	ADDQ(U8(32), out)
	ADDQ(param("cskip"), c)
	ADDQ(param("sskip"), s)
	DECQ(left)
	JNZ(LabelRef(name + "_row"))
	VZEROUPPER()
	RET()
}
