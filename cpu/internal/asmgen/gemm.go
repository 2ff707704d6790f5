package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// gemm writes the r×nr AVX2 micro-kernel (nr = 8 or 16): for i < r,
// j < nr, c[i·ldc+j] += Σ_{p<k} a[i·rs+p·ps] · b[p·ldb+j].
// The two strides of a let one kernel read a decoded panel of W either
// along its rows (forward) or down its columns (backward).
func gemm(r, nr int) { gemmKernel(r, nr, false) }

// gemm512 writes the AVX-512 micro-kernel of the same form (nr a multiple
// of 16): 32 zmm registers hold twice the accumulators of AVX2's 16 ymm.
func gemm512(r, nr int) { gemmKernel(r, nr, true) }

func gemmKernel(r, nr int, zmm bool) {
	set, vw, vec := "AVX2", 8, YMM
	if zmm {
		set, vw, vec = "AVX512", 16, ZMM
	}
	name := fmt.Sprintf("gemm%sx%dx%d", set, r, nr)
	TEXT(name, NOSPLIT, "func(a *float32, rs int, ps int, b *float32, ldb int, c *float32, ldc int, k int)")
	Doc(fmt.Sprintf("%s is the %d×%d register-blocked FMA micro-kernel.", name, r, nr))
	a := Load(Param("a"), GP64())
	rs := Load(Param("rs"), GP64())
	SHLQ(U8(2), rs)
	ps := Load(Param("ps"), GP64())
	SHLQ(U8(2), ps)
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(2), ldb)
	n := Load(Param("k"), GP64())

	// Row i of a is base i/3 plus (i%3)·rs; base j sits at a + 3j·rs.
	bases := []reg.Register{a}
	if r > 3 {
		rs3 := GP64()
		LEAQ(Mem{Base: rs, Index: rs, Scale: 2}, rs3)
		for j := 1; j < (r+2)/3; j++ {
			p := GP64()
			LEAQ(Mem{Base: bases[j-1], Index: rs3, Scale: 1}, p)
			bases = append(bases, p)
		}
	}
	at := func(i int) Mem { return rowOf(bases, rs, i) }

	w := nr / vw
	acc := make([][]reg.VecVirtual, r)
	for i := range acc {
		for j := 0; j < w; j++ {
			v := vec()
			if zmm {
				VPXORD(v, v, v) // VXORPS on zmm needs AVX512DQ
			} else {
				VXORPS(v, v, v)
			}
			acc[i] = append(acc[i], v)
		}
	}
	bv := make([]reg.VecVirtual, w)
	for j := range bv {
		bv[j] = vec()
	}
	t := vec()
	TESTQ(n, n)
	JZ(LabelRef(name + "_store"))
	Label(name + "_loop")
	for j := range bv {
		VMOVUPS(Mem{Base: b, Disp: 4 * vw * j}, bv[j])
	}
	for i := 0; i < r; i++ {
		VBROADCASTSS(at(i), t)
		for j := range bv {
			VFMADD231PS(bv[j], t, acc[i][j])
		}
	}
	for _, p := range bases {
		ADDQ(ps, p)
	}
	ADDQ(ldb, b)
	DECQ(n)
	JNZ(LabelRef(name + "_loop"))

	Label(name + "_store")
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	for i := 0; i < r; i++ {
		if i > 0 {
			ADDQ(ldc, c)
		}
		for j := range acc[i] {
			VADDPS(Mem{Base: c, Disp: 4 * vw * j}, acc[i][j], acc[i][j])
			VMOVUPS(acc[i][j], Mem{Base: c, Disp: 4 * vw * j})
		}
	}
	VZEROUPPER()
	RET()
}

// rowOf addresses row i of rows stride bytes apart, given a base register
// for every third row: bases[i/3] plus (i%3)·stride, so that no row needs
// a register of its own.
func rowOf(bases []reg.Register, stride reg.Register, i int) Mem {
	m := Mem{Base: bases[i/3]}
	if i%3 > 0 {
		m.Index, m.Scale = stride, uint8(i%3)
	}
	return m
}
