package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// gemv512Short writes the one-row AVX-512 kernel for steps of a single
// unit (blocks of at most 64 codes), with gemv512's arguments. Each group's
// two products are summed (a multiply, then an FMA) and go to the total
// with one FMA by the group's broadcast scale. Those totals are the only
// chains from step to step, so two steps go side by side, each with its
// own two totals: one chain per step would wait on the FMA latency.
func gemv512Short() {
	name := "gemvAVX512x1s"
	TEXT(name, NOSPLIT, "func(codes *byte, cskip int, scales *float32, sskip int, sbytes int, sstep int, x *float32, ubytes int, rows int, pf int, tab *[16]float32, acc *float32, rowc int)")
	Doc(name + " is the AVX-512 fused decode-dot for a batch of 1 over blocks of at most 64 codes.")
	c := Load(Param("codes"), GP64())
	s := Load(Param("scales"), GP64())
	cb := loadCodebook512(Load(Param("tab"), GP64()))
	pf := Load(Param("pf"), GP64())
	out := Load(Param("acc"), GP64())
	left := Load(Param("rows"), GP64())
	step := Load(Param("sstep"), GP64())
	// Offsets from a step's scales: group 1's (0 or 4), the next step's
	// group 0 and group 1.
	second, next2 := GP64(), GP64()
	LEAQ(Mem{Base: step, Disp: -4}, second)
	LEAQ(Mem{Base: step, Index: second, Scale: 1}, next2)
	zero := ZMM()
	VPXORD(zero, zero, zero)
	total := [4]reg.VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
	idx, even, odd, p := ZMM(), ZMM(), ZMM(), ZMM()

	// unit adds step u (0 or 1 from s) into total[2u], total[2u+1].
	unit := func(x reg.Register, u int) {
		PREFETCHT0(Mem{Base: c, Index: pf, Scale: 1, Disp: 32 * u})
		for g := range 2 {
			cb.decode(Mem{Base: c, Disp: 32*u + 16*g}, idx, even, odd)
			VMULPS(Mem{Base: x, Disp: 256*u + 128*g}, even, p)
			VFMADD231PS(Mem{Base: x, Disp: 256*u + 128*g + 64}, odd, p)
			sc := Mem{Base: s}
			switch {
			case u == 0 && g == 1:
				sc.Index, sc.Scale = second, 1
			case u == 1 && g == 0:
				sc.Index, sc.Scale = step, 1
			case u == 1 && g == 1:
				sc.Index, sc.Scale = next2, 1
			}
			VFMADD231PS_BCST(sc, p, total[2*u+g])
		}
	}

	x0, sEnd, sLast := GP64(), GP64(), GP64()
	Label(name + "_row")
	MOVQ(param("x"), x0)
	MOVQ(param("sbytes"), sEnd)
	ADDQ(s, sEnd)
	MOVQ(sEnd, sLast)
	SUBQ(step, sLast) // while s < sLast, two steps are left
	for _, t := range total {
		VMOVAPS(zero, t)
	}
	CMPQ(s, sLast)
	JAE(LabelRef(name + "_tail"))
	Label(name + "_pair")
	unit(x0, 0)
	unit(x0, 1)
	ADDQ(U8(64), c)
	ADDQ(U32(512), x0)
	LEAQ(Mem{Base: s, Index: step, Scale: 2}, s)
	CMPQ(s, sLast)
	JB(LabelRef(name + "_pair"))
	Label(name + "_tail")
	CMPQ(s, sEnd)
	JAE(LabelRef(name + "_sum"))
	unit(x0, 0)
	ADDQ(U8(32), c)
	ADDQ(step, s)
	Label(name + "_sum")
	VADDPS(total[1], total[0], total[0])
	VADDPS(total[3], total[2], total[2])
	VADDPS(total[2], total[0], total[0])
	addFolded(total[0], ZMM(), Mem{Base: out})
	ADDQ(U8(32), out)
	ADDQ(param("cskip"), c)
	ADDQ(param("sskip"), s)
	DECQ(left)
	JNZ(LabelRef(name + "_row"))
	VZEROUPPER()
	RET()
}
