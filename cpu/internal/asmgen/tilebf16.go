package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// tileGroups is how the 32 rows of a tile split into register blocks:
// each group keeps two accumulators per row, so 14 rows is the most 32
// registers hold next to b's two vectors and a broadcast. Three groups of
// about 11 give each accumulator a chain long enough to hide VDPBF16PS's
// latency (a group of 4 would leave only 8 chains).
var tileGroups = []int{11, 11, 10}

// Registers of the tile kernel: the accumulators from 0, b's two vectors
// and the broadcast pair of a.
const tileB0, tileB1, tileA = 28, 29, 30

// tileBF16 writes the AVX-512 BF16 twin of amxTile, for CPUs without AMX:
// the same arguments and layouts (a 32×32 block of c = a[32, 32·ksteps] ·
// b, plus c's values if acc is not 0; a in bf16 rows lda bytes apart, b
// 16·ksteps rows of 128 bytes in pair layout). Row j of c is two vectors
// of 16 float32 sums, one lane per column of b; per pair of k values the
// kernel broadcasts a's pair of row j and VDPBF16PS adds its products
// with b's 32 pairs to them. The rows go in tileGroups, each over all of
// k, so that every sum stays in a register from start to end: the sums'
// order is then that of the instruction, pair after pair along k, with c's
// values first when acc is set.
//
// As in the other bf16 kernels, VDPBF16PS is written as bytes, so every
// vector register is physical.
func tileBF16() {
	const name = "tileBF16AVX512x32x32"
	TEXT(name, NOSPLIT, "func(a *uint16, lda int, b *uint32, c *float32, ldc int, ksteps int, acc int)")
	Doc(name + " is the AVX-512 BF16 32×32 tile kernel: c = a·b (+ c if acc ≠ 0) over 32·ksteps values of k.")
	lda := Load(Param("lda"), GP64())
	ldc := Load(Param("ldc"), GP64())
	lda3, ldc3 := GP64(), GP64()
	LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
	LEAQ(Mem{Base: ldc, Index: ldc, Scale: 2}, ldc3)
	accFlag := Load(Param("acc"), GP64())
	row0 := 0
	for g, r := range tileGroups {
		lbl := func(s string) string { return fmt.Sprintf("%s_g%d_%s", name, g, s) }
		// A base register for every third row (rowOf).
		bases := make([]reg.Register, (r+2)/3)
		for i := range bases {
			bases[i] = rowPointer("a", lda, lda3, row0+3*i)
		}
		c := rowPointer("c", ldc, ldc3, row0)
		cRow := func(j, h int, do func(Mem)) {
			do(Mem{Base: c, Disp: 64 * h})
			if h == 1 && j < r-1 {
				ADDQ(ldc, c)
			}
		}
		TESTQ(accFlag, accFlag)
		JZ(LabelRef(lbl("zero")))
		for j := range r {
			for h := range 2 {
				cRow(j, h, func(m Mem) { VMOVUPS(m, zmm(2*j+h)) })
			}
		}
		JMP(LabelRef(lbl("start")))
		Label(lbl("zero"))
		for j := range 2 * r {
			VPXORD(zmm(j), zmm(j), zmm(j))
		}
		Label(lbl("start"))
		b := Load(Param("b"), GP64())
		n := Load(Param("ksteps"), GP64())
		SHLQ(U8(4), n) // pairs of k
		Label(lbl("k"))
		VMOVDQU32(Mem{Base: b}, zmm(tileB0))
		VMOVDQU32(Mem{Base: b, Disp: 64}, zmm(tileB1))
		for j := range r {
			VPBROADCASTD(rowOf(bases, lda, j), zmm(tileA))
			vdpbf16ps(2*j, tileA, tileB0)
			vdpbf16ps(2*j+1, tileA, tileB1)
		}
		for _, p := range bases {
			ADDQ(U8(4), p)
		}
		ADDQ(U32(128), b)
		DECQ(n)
		JNZ(LabelRef(lbl("k")))
		// Back to the group's first row of c, then its sums out.
		if r > 1 {
			c = rowPointer("c", ldc, ldc3, row0)
		}
		for j := range r {
			for h := range 2 {
				cRow(j, h, func(m Mem) { VMOVUPS(zmm(2*j+h), m) })
			}
		}
		row0 += r
	}
	VZEROUPPER()
	RET()
}

// rowPointer returns a new register holding the pointer argument p plus
// row rows of stride bytes (stride3 is 3·stride): a few additions, once
// per call, rather than a multiply the simulator would need to learn.
func rowPointer(p string, stride, stride3 reg.Register, row int) reg.Register {
	r := GP64()
	MOVQ(param(p), r)
	for range row / 3 {
		ADDQ(stride3, r)
	}
	for range row % 3 {
		ADDQ(stride, r)
	}
	return r
}
