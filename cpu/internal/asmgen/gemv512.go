package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// gemv512 writes the AVX-512 decode-dot kernel for m activation rows. Its
// arguments are those of the AVX2 kernels (see gemvKernel) except tab, the
// 16 table values. A 32-byte unit is two groups of 16 code bytes; a group
// decodes to two zmm vectors (its even codes, then its odd ones), and in a
// step of two 32-code blocks (sstep = 8) group g takes scale g.
//
// x is unit-major: for each 64-code unit, the m rows' 64 values, each in
// decode order: group 0's even codes, its odd codes, then group 1's.
//
// With one row each step is summed unscaled, one partial sum per group,
// and each group's scale is applied once to its sum. With more rows each
// decoded vector is scaled once and shared by all rows. The 16 lanes of a
// row's sum are folded to the 8 of acc (the AVX2 layout) at the end.
func gemv512(m int) {
	name := fmt.Sprintf("gemvAVX512x%d", m)
	TEXT(name, NOSPLIT, "func(codes *byte, cskip int, scales *float32, sskip int, sbytes int, sstep int, x *float32, ubytes int, rows int, pf int, tab *[16]float32, acc *float32)")
	Doc(fmt.Sprintf("%s is the AVX-512 fused decode-dot over weight rows for a batch of %d.", name, m))
	c := Load(Param("codes"), GP64())
	s := Load(Param("scales"), GP64())
	cb := loadCodebook512(Load(Param("tab"), GP64()))
	pf := Load(Param("pf"), GP64())
	out := Load(Param("acc"), GP64())
	left := Load(Param("rows"), GP64())
	second := Load(Param("sstep"), GP64())
	SUBQ(U8(4), second) // offset of group 1's scale: 0 or 4
	addr := func(name string) Mem {
		b, err := Param(name).Resolve()
		if err != nil {
			panic(err)
		}
		return b.Addr
	}
	lbl := func(s string) string { return name + "_" + s }

	single := m == 1
	// Independent FMA chains per activation row: four (one per group and
	// nibble) while the registers allow, else two.
	per := 4
	if m > 4 {
		per = 2
	}
	acc := make([][]reg.VecVirtual, m)
	for i := range acc {
		for range per {
			acc[i] = append(acc[i], ZMM())
		}
	}
	var total reg.VecVirtual
	if single {
		total = ZMM()
	}
	idx, even, odd := ZMM(), ZMM(), ZMM()

	x0, sEnd, gEnd := GP64(), GP64(), GP64()
	// Zeroing is VPXORD: VXORPS on zmm needs AVX512DQ.
	Label(lbl("row"))
	MOVQ(addr("x"), x0)
	MOVQ(addr("sbytes"), sEnd)
	ADDQ(s, sEnd)
	if single {
		VPXORD(total, total, total)
	} else {
		for _, r := range acc {
			for _, a := range r {
				VPXORD(a, a, a)
			}
		}
	}
	Label(lbl("step"))
	var sv [2]reg.VecVirtual
	if single {
		for _, a := range acc[0] {
			VPXORD(a, a, a)
		}
	} else {
		sv = [2]reg.VecVirtual{ZMM(), ZMM()}
		VBROADCASTSS(Mem{Base: s}, sv[0])
		VBROADCASTSS(Mem{Base: s, Index: second, Scale: 1}, sv[1])
	}
	MOVQ(addr("ubytes"), gEnd)
	ADDQ(c, gEnd)
	Label(lbl("unit"))
	PREFETCHT0(Mem{Base: c, Index: pf, Scale: 1})
	for g := range 2 {
		cb.decode(Mem{Base: c, Disp: 16 * g}, idx, even, odd)
		for h, v := range []reg.VecVirtual{even, odd} {
			if !single {
				VMULPS(sv[g], v, v)
			}
			k := (2*g + h) % per
			for i := range m {
				VFMADD231PS(Mem{Base: x0, Disp: 256*i + 128*g + 64*h}, v, acc[i][k])
			}
		}
	}
	ADDQ(U8(32), c)
	ADDQ(U32(256*m), x0)
	CMPQ(c, gEnd)
	JB(LabelRef(lbl("unit")))

	if single {
		// End of step: each group's sum times its scale, into the total.
		a := acc[0]
		VADDPS(a[1], a[0], a[0])
		VADDPS(a[3], a[2], a[2])
		t := ZMM()
		VBROADCASTSS(Mem{Base: s}, t)
		VFMADD231PS(t, a[0], total)
		VBROADCASTSS(Mem{Base: s, Index: second, Scale: 1}, t)
		VFMADD231PS(t, a[2], total)
	}
	ADDQ(addr("sstep"), s)
	CMPQ(s, sEnd)
	JB(LabelRef(lbl("step")))

	for i := range m {
		sum := total
		if !single {
			sum = acc[i][0]
			for _, a := range acc[i][1:] {
				VADDPS(a, sum, sum)
			}
		}
		hi := YMM()
		VEXTRACTF64X4(U8(1), sum, hi)
		VADDPS(hi, sum.AsY(), hi)
		VADDPS(Mem{Base: out, Disp: 32 * i}, hi, hi)
		VMOVUPS(hi, Mem{Base: out, Disp: 32 * i})
	}
	ADDQ(U32(32*m), out)
	ADDQ(addr("cskip"), c)
	ADDQ(addr("sskip"), s)
	DECQ(left)
	JNZ(LabelRef(lbl("row")))
	VZEROUPPER()
	RET()
}
