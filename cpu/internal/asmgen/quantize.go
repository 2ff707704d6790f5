package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Offsets into the constant table the caller passes (rows of 8 lanes).
const (
	kOne      = 15 * 32 // 1.0
	kAbsMask  = 16 * 32 // 0x7fffffff
	kMaxFin   = 17 * 32 // bits of MaxFloat32
	kPickByte = 18 * 32 // VPSHUFB mask: bytes 0 and 8 of each lane to 0 and 1
)

// quantize writes the kernel that quantizes whole blocks: absmax, then for
// each value v = x/absmax (a true division, as in the scalar code) the
// number of midpoints strictly below v. It returns the index of the first
// block holding a NaN or Inf, or -1.
func quantize() {
	TEXT("quantizeAVX2", NOSPLIT, "func(codes *byte, absmax *float32, src *float32, blocks int, blockSize int, k *[19][8]uint32) int")
	Doc("quantizeAVX2 quantizes blocks·blockSize values of src.")
	c := Load(Param("codes"), GP64())
	am := Load(Param("absmax"), GP64())
	p := Load(Param("src"), GP64())
	nb := Load(Param("blocks"), GP64())
	bsz := Load(Param("blockSize"), GP64())
	SHLQ(U8(2), bsz)
	k := Load(Param("k"), GP64())
	kc := func(off int) Mem { return Mem{Base: k, Disp: off} }

	absMask, zero := YMM(), YMM()
	VMOVUPS(kc(kAbsMask), absMask)
	VXORPS(zero, zero, zero)
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
	div := m1
	VBROADCASTSS(m0.AsX(), div)
	// An all-zero block divides by one: every ±0 then lands on the zero
	// code, as the scalar path writes it.
	VCMPPS(U8(0), zero, div, t)
	VBLENDVPS(t, kc(kOne), div, div)

	Label("quant_codes")
	v := [2]reg.VecVirtual{x0, x1}
	cnt := [2]reg.VecVirtual{m0, bad}
	for u := 0; u < 2; u++ {
		VMOVUPS(Mem{Base: p, Disp: 32 * u}, v[u])
		VDIVPS(div, v[u], v[u])
		VXORPS(cnt[u], cnt[u], cnt[u])
	}
	for i := 0; i < 15; i++ {
		for u := 0; u < 2; u++ {
			VCMPPS(U8(0x1e), kc(32*i), v[u], t) // v > midpoint[i], ordered
			VPSUBD(t, cnt[u], cnt[u])
		}
	}
	for u := 0; u < 2; u++ {
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

	ADDQ(U8(4), am)
	INCQ(b)
	CMPQ(b, nb)
	JB(LabelRef("quant_block"))
	MOVQ(I64(-1), b)
	Label("quant_bad")
	Store(b, ReturnIndex(0))
	VZEROUPPER()
	RET()
}
