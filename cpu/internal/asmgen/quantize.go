package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Offsets into the constant table the caller passes (rows of 8 lanes,
// cpu.quantConsts): rows 0-14 hold the code table's midpoints in sort order.
const (
	kOne      = 15 * 32 // 1.0
	kAbsMask  = 16 * 32 // 0x7fffffff
	kMaxFin   = 17 * 32 // bits of MaxFloat32
	kPickByte = 18 * 32 // VPSHUFB mask: bytes 0 and 8 of each lane to 0 and 1
	kMinScale = 19 * 32 // the floor under absmax before its reciprocal (1e-38)
	kOrderLo  = 20 * 32 // rank → code for ranks 0-7, one dword each
	kOrderHi  = 21 * 32 // rank → code for ranks 8-15
)

// quantize writes the kernel that quantizes whole blocks with bitsandbytes'
// rule: absmax, r = 1/max(absmax, 1e-38), and for each value v = x·r the
// rank of v among the table's midpoints (how many lie strictly below it),
// mapped to its code through the table's sort order. The table is the
// constant block the caller passes, so one kernel serves every code table.
// It returns the index of the first block holding a NaN or Inf, or -1.
func quantize() {
	TEXT("quantizeAVX2", NOSPLIT, "func(codes *byte, absmax *float32, src *float32, blocks int, blockSize int, k *[22][8]uint32) int")
	Doc("quantizeAVX2 quantizes blocks·blockSize values of src.")
	qp := loadQuantParams()
	c, am, p, bsz, k := qp.codes, qp.absmax, qp.src, qp.blockBytes, qp.consts
	kc := func(off int) Mem { return Mem{Base: k, Disp: off} }

	absMask := YMM()
	VMOVUPS(kc(kAbsMask), absMask)
	b := GP64()
	XORQ(b, b)
	end := GP64()
	m0, m1, bad, x0, x1, t := YMM(), YMM(), YMM(), YMM(), YMM(), YMM()

	Label("quant_block")
	MOVQ(p, end)
	ADDQ(bsz, end)
	q := GP64()
	MOVQ(p, q)
	VXORPS(m0, m0, m0)
	VXORPS(m1, m1, m1)
	VXORPS(bad, bad, bad)
	Label("quant_max")
	VANDPS(Mem{Base: q}, absMask, x0)
	VANDPS(Mem{Base: q, Disp: 32}, absMask, x1)
	VPCMPGTD(kc(kMaxFin), x0, t)
	VPOR(t, bad, bad)
	VPCMPGTD(kc(kMaxFin), x1, t)
	VPOR(t, bad, bad)
	VMAXPS(x0, m0, m0)
	VMAXPS(x1, m1, m1)
	ADDQ(U8(64), q)
	CMPQ(q, end)
	JB(LabelRef("quant_max"))
	VPTEST(bad, bad)
	JNZ(LabelRef("quant_bad"))

	// Horizontal max into every lane of m0.
	VMAXPS(m1, m0, m0)
	VEXTRACTF128(U8(1), m0, t.AsX())
	VMAXPS(t.AsX(), m0.AsX(), m0.AsX())
	VPERMILPS(U8(0x4e), m0.AsX(), t.AsX())
	VMAXPS(t.AsX(), m0.AsX(), m0.AsX())
	VPERMILPS(U8(0xb1), m0.AsX(), t.AsX())
	VMAXPS(t.AsX(), m0.AsX(), m0.AsX())
	VMOVSS(m0.AsX(), Mem{Base: am})
	// The reciprocal once per block; the floor keeps it finite for an
	// all-zero block, whose values then all scale to ±0.
	r := m1
	VBROADCASTSS(m0.AsX(), r)
	VMAXPS(kc(kMinScale), r, r)
	VMOVUPS(kc(kOne), t)
	VDIVPS(r, t, r)

	Label("quant_codes")
	v := [2]reg.VecVirtual{x0, x1}
	cnt := [2]reg.VecVirtual{m0, bad}
	for u := 0; u < 2; u++ {
		VMULPS(Mem{Base: p, Disp: 32 * u}, r, v[u])
		VXORPS(cnt[u], cnt[u], cnt[u])
	}
	for i := 0; i < 15; i++ {
		for u := 0; u < 2; u++ {
			VCMPPS(U8(0x1e), kc(32*i), v[u], t) // v > midpoint[i], ordered
			VPSUBD(t, cnt[u], cnt[u])
		}
	}
	for u := 0; u < 2; u++ {
		// Rank to code: VPERMPS reads the low three bits of each rank, so
		// one lookup per half of the order and a blend on bit 3.
		VPSLLD(U8(28), cnt[u], t)
		VPERMPS(kc(kOrderHi), cnt[u], v[u])
		VPERMPS(kc(kOrderLo), cnt[u], cnt[u])
		VBLENDVPS(t, v[u], cnt[u], cnt[u])
		// Each qword holds two codes; fold the odd one into bits 4-7 of
		// the even one's byte, then gather those bytes.
		VPSRLQ(U8(28), cnt[u], t)
		VPOR(t, cnt[u], cnt[u])
		VPSHUFB(kc(kPickByte), cnt[u], cnt[u])
		VEXTRACTI128(U8(1), cnt[u], t.AsX())
		VPUNPCKLWD(t.AsX(), cnt[u].AsX(), cnt[u].AsX())
		VMOVD(cnt[u].AsX(), Mem{Base: c, Disp: 4 * u})
	}
	ADDQ(U8(8), c)
	ADDQ(U8(64), p)
	CMPQ(p, end)
	JB(LabelRef("quant_codes"))

	qp.nextBlock(b, "quant_block", "quant_bad")
}

// quantParams are the registers both quantizers load their arguments in.
type quantParams struct {
	codes, absmax, src, blocks reg.GPVirtual
	blockBytes                 reg.GPVirtual // blockSize·4: a block's bytes of src
	consts                     reg.GPVirtual
}

func loadQuantParams() quantParams {
	q := quantParams{codes: GP64(), absmax: GP64(), src: GP64(), blocks: GP64(), blockBytes: GP64(), consts: GP64()}
	Load(Param("codes"), q.codes)
	Load(Param("absmax"), q.absmax)
	Load(Param("src"), q.src)
	Load(Param("blocks"), q.blocks)
	Load(Param("blockSize"), q.blockBytes)
	SHLQ(U8(2), q.blockBytes)
	Load(Param("k"), q.consts)
	return q
}

// nextBlock ends a quantizer's block loop, b counting blocks: on to the
// next absmax and block at loop, and past the last one return -1; a jump
// to bad returns b, the block that held a NaN or Inf.
func (q quantParams) nextBlock(b reg.GPVirtual, loop, bad string) {
	ADDQ(U8(4), q.absmax)
	INCQ(b)
	CMPQ(b, q.blocks)
	JB(LabelRef(loop))
	MOVQ(I64(-1), b)
	Label(bad)
	Store(b, ReturnIndex(0))
	VZEROUPPER()
	RET()
}
