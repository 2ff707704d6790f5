package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Chains of the peak loops: independent accumulators enough to keep two
// FMA pipes busy through a latency of 6 cycles (12 = 2·6; the AVX2 set
// has 16 registers, the AVX-512 one 32).
const peakChainsAVX2, peakChainsAVX512 = 12, 24

// peakFMA writes the float32 FMA peak loop of a set: n rounds of chains
// independent VFMADD231PS acc_j += a·a (a from the first argument, 8 or 16
// lanes), then the chains' sum, lane by lane, to out. The loop holds
// nothing but the FMAs and its counter, so its rate is the cores' FMA
// peak; the sum, chains·n·a² where that is exact, lets a test see that
// every FMA ran.
func peakFMA(zmm bool) {
	name, chains, vec := "peakFMAAVX2", peakChainsAVX2, func() reg.VecVirtual { return YMM() }
	if zmm {
		name, chains, vec = "peakFMAAVX512", peakChainsAVX512, func() reg.VecVirtual { return ZMM() }
	}
	TEXT(name, NOSPLIT, "func(n int, a *float32, out *float32)")
	Doc(fmt.Sprintf("%s runs n rounds of %d independent FMAs and writes their sums to out.", name, chains))
	n := Load(Param("n"), GP64())
	a := vec()
	VMOVUPS(Mem{Base: Load(Param("a"), GP64())}, a)
	zero := vec()
	if zmm {
		VPXORD(zero, zero, zero) // VXORPS on zmm needs AVX512DQ
	} else {
		VXORPS(zero, zero, zero)
	}
	acc := make([]reg.VecVirtual, chains)
	for j := range acc {
		acc[j] = vec()
		VMOVAPS(zero, acc[j])
	}
	TESTQ(n, n)
	JZ(LabelRef(name + "_sum"))
	Label(name + "_round")
	for _, v := range acc {
		VFMADD231PS(a, a, v)
	}
	DECQ(n)
	JNZ(LabelRef(name + "_round"))
	Label(name + "_sum")
	for _, v := range acc[1:] {
		VADDPS(v, acc[0], acc[0])
	}
	VMOVUPS(acc[0], Mem{Base: Load(Param("out"), GP64())})
	VZEROUPPER()
	RET()
}

// peakBF16 writes the VDPBF16PS peak loop: as peakFMA on zmm, each round
// adding a's 16 bf16 pairs' dot products with themselves to every chain
// (four flops a lane). As in the other bf16 kernels, VDPBF16PS is written
// as bytes, so the vector registers are physical.
func peakBF16() {
	const name, chains, src = "peakBF16AVX512", peakChainsAVX512, 30
	TEXT(name, NOSPLIT, "func(n int, a *uint32, out *float32)")
	Doc(fmt.Sprintf("%s runs n rounds of %d independent VDPBF16PS and writes their sums to out.", name, chains))
	n := Load(Param("n"), GP64())
	VMOVDQU32(Mem{Base: Load(Param("a"), GP64())}, zmm(src))
	for j := range chains {
		VPXORD(zmm(j), zmm(j), zmm(j))
	}
	TESTQ(n, n)
	JZ(LabelRef(name + "_sum"))
	Label(name + "_round")
	for j := range chains {
		vdpbf16ps(j, src, src)
	}
	DECQ(n)
	JNZ(LabelRef(name + "_round"))
	Label(name + "_sum")
	for j := 1; j < chains; j++ {
		VADDPS(zmm(j), zmm(0), zmm(0))
	}
	VMOVUPS(zmm(0), Mem{Base: Load(Param("out"), GP64())})
	VZEROUPPER()
	RET()
}
