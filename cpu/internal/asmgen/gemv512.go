package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// gemv512 writes the AVX-512 decode-dot kernel for m activation rows. Its
// arguments are those of the AVX2 kernels (see gemvKernel) except tab, the
// 16 table values, and rowc, the code bytes from one weight row's start to
// the next. A 32-byte unit is two groups of 16 code bytes; a group decodes
// to two zmm vectors (its even codes, then its odd ones), and in a step of
// two 32-code blocks (sstep = 8) group g takes scale g.
//
// x is unit-major: for each 64-code unit, the m rows' 64 values, each in
// decode order: group 0's even codes, its odd codes, then group 1's.
//
// With one activation row each step is summed unscaled, one partial sum
// per group, and each group's scale is applied once to its sum. With more
// rows each step's scales are multiplied into copies of the table, so that
// decoded vectors come out scaled and are shared by all rows, and two
// weight rows go side by side so that each vector of x loaded serves both
// (the loads of x, not the FMAs, bound a kernel that reads x once per
// FMA). The 16 lanes of a row's sum are folded to the 8 of acc (the AVX2
// layout) at the end.
func gemv512(m int) {
	name := fmt.Sprintf("gemvAVX512x%d", m)
	TEXT(name, NOSPLIT, "func(codes *byte, cskip int, scales *float32, sskip int, sbytes int, sstep int, x *float32, ubytes int, rows int, pf int, tab *[16]float32, acc *float32, rowc int)")
	Doc(fmt.Sprintf("%s is the AVX-512 fused decode-dot over weight rows for a batch of %d.", name, m))
	k := gemv512Kernel{m: m, name: name}
	k.c = Load(Param("codes"), GP64())
	k.s = Load(Param("scales"), GP64())
	k.cb = loadCodebook512(Load(Param("tab"), GP64()))
	k.pf = Load(Param("pf"), GP64())
	k.out = Load(Param("acc"), GP64())
	k.left = Load(Param("rows"), GP64())
	k.second = Load(Param("sstep"), GP64())
	SUBQ(U8(4), k.second) // offset of group 1's scale: 0 or 4
	// VPXORD: VXORPS on zmm needs AVX512DQ.
	k.zero = ZMM()
	VPXORD(k.zero, k.zero, k.zero)
	if m > 1 {
		Label(name + "_pairs")
		CMPQ(k.left, U8(2))
		JB(LabelRef(name + "_single"))
		k.rows(2)
		JMP(LabelRef(name + "_pairs"))
		Label(name + "_single")
		TESTQ(k.left, k.left)
		JZ(LabelRef(name + "_done"))
	}
	k.rows(1)
	if m > 1 {
		Label(name + "_done")
	}
	VZEROUPPER()
	RET()
}

type gemv512Kernel struct {
	m                           int
	name                        string
	c, s, pf, out, left, second reg.Register
	cb                          codebook512
	// zero is the source of every cleared accumulator: avo takes an
	// xor of a register with itself as a read of it, which would keep
	// every accumulator live from the start.
	zero reg.VecVirtual
}

func param(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// rows writes the loop over weight rows taken r (1 or 2) at a time; with
// r = 1 it runs until no row is left, with r = 2 it does one pair.
func (k *gemv512Kernel) rows(r int) {
	m, c, s := k.m, k.c, k.s
	lbl := func(s string) string { return fmt.Sprintf("%s_r%d_%s", k.name, r, s) }
	single := m == 1
	// Independent FMA chains per (weight row, activation row): enough to
	// cover the FMA latency within 32 registers.
	per := 4
	switch {
	case r == 2 && m >= 5:
		per = 1
	case r == 2 || m > 4:
		per = 2
	}
	acc := make([][][]reg.VecVirtual, r)
	for w := range acc {
		acc[w] = make([][]reg.VecVirtual, m)
		for i := range acc[w] {
			for range per {
				acc[w][i] = append(acc[w][i], ZMM())
			}
		}
	}
	var total [2]reg.VecVirtual
	if single {
		total = [2]reg.VecVirtual{ZMM(), ZMM()}
	}
	// c2 and s2 point into the second weight row.
	var c2, s2 reg.Register
	var x0, sEnd, gEnd reg.Register = GP64(), GP64(), GP64()
	Label(lbl("row"))
	MOVQ(param("x"), x0)
	MOVQ(param("sbytes"), sEnd)
	ADDQ(s, sEnd)
	if r == 2 {
		c2, s2 = GP64(), GP64()
		MOVQ(param("rowc"), c2)
		ADDQ(c, c2)
		MOVQ(param("sskip"), s2)
		ADDQ(sEnd, s2)
	}
	if single {
		for _, t := range total {
			VMOVAPS(k.zero, t)
		}
	} else {
		for _, w := range acc {
			for _, a := range w {
				for _, v := range a {
					VMOVAPS(k.zero, v)
				}
			}
		}
	}
	Label(lbl("step"))
	if single {
		for _, a := range acc[0][0] {
			VMOVAPS(k.zero, a)
		}
	}
	// Group g of weight row w scales by scale(w, g), read where it is
	// used: broadcast operands keep the registers for the accumulators.
	scale := func(w, g int) Mem {
		base := s
		if w == 1 {
			base = s2
		}
		if g == 0 {
			return Mem{Base: base}
		}
		return Mem{Base: base, Index: k.second, Scale: 1}
	}
	// With more than one activation row, the table times each group's
	// scale, once a step: a decoded vector is then already scaled, as a
	// multiply after the decode would round it the same.
	tabs := make([][2]codebook512, r)
	if !single {
		for w := range tabs {
			for g := range 2 {
				tabs[w][g] = codebook512{ZMM()}
				VMULPS_BCST(scale(w, g), k.cb.tab, tabs[w][g].tab)
			}
		}
	}
	MOVQ(param("ubytes"), gEnd)
	ADDQ(c, gEnd)
	Label(lbl("unit"))
	PREFETCHT0(Mem{Base: c, Index: k.pf, Scale: 1})
	if r == 2 {
		PREFETCHT0(Mem{Base: c2, Index: k.pf, Scale: 1})
	}
	idx := ZMM()
	for g := range 2 {
		vs := make([][2]reg.VecVirtual, r)
		for w := range vs {
			base := c
			if w == 1 {
				base = c2
			}
			vs[w] = [2]reg.VecVirtual{ZMM(), ZMM()}
			cb := k.cb
			if !single {
				cb = tabs[w][g]
			}
			cb.decode(Mem{Base: base, Disp: 16 * g}, idx, vs[w][0], vs[w][1])
		}
		for h := range 2 {
			a := (2*g + h) % per
			for i := range m {
				xm := Mem{Base: x0, Disp: 256*i + 128*g + 64*h}
				if r == 1 {
					VFMADD231PS(xm, vs[0][h], acc[0][i][a])
					continue
				}
				xv := ZMM()
				VMOVUPS(xm, xv)
				for w := range r {
					VFMADD231PS(xv, vs[w][h], acc[w][i][a])
				}
			}
		}
	}
	ADDQ(U8(32), c)
	if r == 2 {
		ADDQ(U8(32), c2)
	}
	ADDQ(U32(256*m), x0)
	CMPQ(c, gEnd)
	JB(LabelRef(lbl("unit")))

	if single {
		// End of step: each group's sum times its scale, into that
		// group's total (two chains, so steps do not wait on each other).
		a := acc[0][0]
		VADDPS(a[1], a[0], a[0])
		VADDPS(a[3], a[2], a[2])
		VFMADD231PS_BCST(scale(0, 0), a[0], total[0])
		VFMADD231PS_BCST(scale(0, 1), a[2], total[1])
	}
	ADDQ(param("sstep"), s)
	if r == 2 {
		ADDQ(param("sstep"), s2)
	}
	CMPQ(s, sEnd)
	JB(LabelRef(lbl("step")))

	for w := range r {
		for i := range m {
			var sum reg.VecVirtual
			if single {
				sum = total[0]
				VADDPS(total[1], sum, sum)
			} else {
				sum = acc[w][i][0]
				for _, a := range acc[w][i][1:] {
					VADDPS(a, sum, sum)
				}
			}
			addFolded(sum, ZMM(), Mem{Base: k.out, Disp: 32 * (w*m + i)})
		}
	}
	ADDQ(U32(32*m*r), k.out)
	if r == 2 {
		// Past the second row's run, then its skip.
		MOVQ(c2, c)
		MOVQ(s2, s)
	}
	ADDQ(param("cskip"), c)
	ADDQ(param("sskip"), s)
	if r == 2 {
		SUBQ(U8(2), k.left)
		return
	}
	DECQ(k.left)
	JNZ(LabelRef(lbl("row")))
}
