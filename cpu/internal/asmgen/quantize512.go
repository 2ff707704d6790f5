package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Offsets into the AVX-512 quantizer's constants (cpu.quantConsts512):
// the table's 15 midpoints in sort order (one lane of padding), its sort
// order (rank → code), then single dwords.
const (
	q5Bounds   = 0
	q5Order    = 64
	q5MinScale = 128 // the floor under absmax before its reciprocal
	q5One      = 132 // 1.0
	q5MaxFin   = 136 // bits of MaxFloat32
	q5AbsMask  = 140 // 0x7fffffff
	q5Int      = 144 // the integers 1, 2, 3, 4, 8
)

// quantize512 writes the AVX-512 twin of quantize: the same rule and the
// same codes, scales and error index. A zmm holds all 15 midpoints, so
// each value's rank comes from the scalar code's four-level search (the
// midpoint to compare with picked by VPERMPS) rather than 15 compares, and
// one VPERMPS maps ranks to codes. absmax is an integer max of the values'
// bits without sign, which orders finite floats as floats do and puts NaN
// and Inf above MaxFloat32's bits, so one compare finds them.
func quantize512() {
	TEXT("quantizeAVX512", NOSPLIT, "func(codes *byte, absmax *float32, src *float32, blocks int, blockSize int, k *[41]uint32) int")
	Doc("quantizeAVX512 quantizes blocks·blockSize values of src.")
	qp := loadQuantParams()
	c, am, p, bsz, k := qp.codes, qp.absmax, qp.src, qp.blockBytes, qp.consts
	kc := func(off int) Mem { return Mem{Base: k, Disp: off} }
	bcast := func(off int) reg.VecVirtual {
		v := ZMM()
		VPBROADCASTD(kc(off), v)
		return v
	}
	absMask, maxFin := bcast(q5AbsMask), bcast(q5MaxFin)
	bounds, order := ZMM(), ZMM()
	VMOVUPS(kc(q5Bounds), bounds)
	VMOVUPS(kc(q5Order), order)
	mid7 := bcast(q5Bounds + 4*7)
	i1, i2, i3, i4, i8 := bcast(q5Int), bcast(q5Int+4), bcast(q5Int+8), bcast(q5Int+12), bcast(q5Int+16)
	zero := ZMM()
	VPXORD(zero, zero, zero)

	b := GP64()
	XORQ(b, b)
	end := GP64()
	m0, m1, x0, x1, t := ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	gt := K()

	Label("quant512_block")
	MOVQ(p, end)
	ADDQ(bsz, end)
	q := GP64()
	MOVQ(p, q)
	VMOVDQA32(zero, m0)
	VMOVDQA32(zero, m1)
	Label("quant512_max")
	VPANDD(Mem{Base: q}, absMask, x0)
	VPANDD(Mem{Base: q, Disp: 64}, absMask, x1)
	VPMAXUD(x0, m0, m0)
	VPMAXUD(x1, m1, m1)
	ADDQ(U8(128), q)
	CMPQ(q, end)
	JB(LabelRef("quant512_max"))
	// The max into every lane of m0: swap halves, quarters, qwords, dwords.
	VPMAXUD(m1, m0, m0)
	for _, imm := range []uint8{0x4e, 0xb1} {
		VSHUFI64X2(U8(imm), m0, m0, t)
		VPMAXUD(t, m0, m0)
	}
	for _, imm := range []uint8{0x4e, 0xb1} {
		VPSHUFD(U8(imm), m0, t)
		VPMAXUD(t, m0, m0)
	}
	VPCMPUD(U8(6), maxFin, m0, gt) // m0 > MaxFloat32's bits: NaN or Inf
	KORTESTW(gt, gt)
	JNZ(LabelRef("quant512_bad"))
	VMOVSS(m0.AsX(), Mem{Base: am})
	// The reciprocal once per block; the floor keeps it finite for an
	// all-zero block, whose values then all scale to ±0.
	r := m1
	VMAXPS_BCST(kc(q5MinScale), m0, r)
	VBROADCASTSS(kc(q5One), t)
	VDIVPS(r, t, r)

	Label("quant512_codes")
	for u := range 2 {
		v, rank := x0, x1
		VMULPS(Mem{Base: p, Disp: 64 * u}, r, v)
		// The scalar code's search: rank += 8·(v > mid[7]), then
		// 4·(v > mid[rank+3]), 2·(v > mid[rank+1]), 1·(v > mid[rank]).
		VMOVDQA32(zero, rank)
		VCMPPS(U8(0x1e), mid7, v, gt) // v > midpoint, ordered
		VPADDD(i8, rank, gt, rank)
		for _, s := range []struct{ off, step reg.VecVirtual }{{i3, i4}, {i1, i2}, {nil, i1}} {
			idx := rank
			if s.off != nil {
				idx = t
				VPADDD(s.off, rank, idx)
			}
			VPERMPS(bounds, idx, t)
			VCMPPS(U8(0x1e), t, v, gt)
			VPADDD(s.step, rank, gt, rank)
		}
		VPERMPS(order, rank, v)
		// Each qword holds two codes; fold the odd one into bits 4-7 of
		// the even one's byte, and keep those bytes.
		VPSRLQ(U8(28), v, t)
		VPORD(t, v, v)
		VPMOVQB(v, Mem{Base: c, Disp: 8 * u})
	}
	ADDQ(U8(16), c)
	ADDQ(U32(128), p)
	CMPQ(p, end)
	JB(LabelRef("quant512_codes"))

	qp.nextBlock(b, "quant512_block", "quant512_bad")
}
