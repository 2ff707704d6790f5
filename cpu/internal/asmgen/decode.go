package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// decode writes the kernel that expands whole blocks into float32 values
// in element order, each code times its block's scale, prefetching the
// codes pf bytes ahead. With stream, as in decode512, the values bypass
// the caches (non-temporal stores; dst must be 32-byte aligned).
func decode(stream bool) {
	name, store := "decodeAVX2", func(v, m Op) { VMOVUPS(v, m) }
	if stream {
		name, store = "decodeAVX2Stream", VMOVNTPS
	}
	TEXT(name, NOSPLIT, "func(dst *float32, codes *byte, scales *float32, blocks int, blockSize int, pf int, tab *[16]float32)")
	if stream {
		Doc(name + " is decodeAVX2 with non-temporal stores to a 32-byte aligned dst.")
	} else {
		Doc(name + " writes blocks·blockSize scaled values to dst.")
	}
	d := Load(Param("dst"), GP64())
	c := Load(Param("codes"), GP64())
	s := Load(Param("scales"), GP64())
	nb := Load(Param("blocks"), GP64())
	sEnd := GP64()
	LEAQ(Mem{Base: s, Index: nb, Scale: 4}, sEnd)
	half := Load(Param("blockSize"), GP64())
	SHRQ(U8(1), half)
	cb := loadCodebook(Load(Param("tab"), GP64()))
	pf := Load(Param("pf"), GP64())

	scale, idx, sel, tmp, lo, hi, u, w := YMM(), YMM(), YMM(), YMM(), YMM(), YMM(), YMM(), YMM()
	gEnd := GP64()
	Label(name + "_block")
	VBROADCASTSS(Mem{Base: s}, scale)
	MOVQ(c, gEnd)
	ADDQ(half, gEnd)
	Label(name + "_group")
	PREFETCHT0(Mem{Base: c, Index: pf, Scale: 1})
	cb.decodeLow(Mem{Base: c}, idx, sel, tmp, lo)
	cb.decodeHigh(idx, sel, tmp, hi)
	VMULPS(scale, lo, lo)
	VMULPS(scale, hi, hi)
	// lo holds elements 0,2,…,14 and hi 1,3,…,15; interleaving within
	// lanes gives [0-3 | 8-11] and [4-7 | 12-15].
	VUNPCKLPS(hi, lo, u)
	VUNPCKHPS(hi, lo, w)
	VPERM2F128(U8(0x20), w, u, lo)
	VPERM2F128(U8(0x31), w, u, hi)
	store(lo, Mem{Base: d})
	store(hi, Mem{Base: d, Disp: 32})
	ADDQ(U8(8), c)
	ADDQ(U8(64), d)
	CMPQ(c, gEnd)
	JB(LabelRef(name + "_group"))
	ADDQ(U8(4), s)
	CMPQ(s, sEnd)
	JB(LabelRef(name + "_block"))
	if stream {
		SFENCE() // the streamed stores are ordered before any that follow
	}
	VZEROUPPER()
	RET()
}

// codebook holds the two halves of the NF4 table in registers. VPERMPS
// reads only the low three bits of each index, so one lookup per half and
// a blend on bit 3 give the 16-entry lookup.
type codebook struct{ lo, hi reg.VecVirtual }

func loadCodebook(tab reg.Register) codebook {
	c := codebook{YMM(), YMM()}
	VMOVUPS(Mem{Base: tab}, c.lo)
	VMOVUPS(Mem{Base: tab, Disp: 32}, c.hi)
	return c
}

// lookup sets dst to table[idx & 15] per lane; sel must hold bit 3 of the
// index in its sign bit. tmp is clobbered.
func (c codebook) lookup(idx, sel, tmp, dst reg.VecVirtual) {
	VPERMPS(c.lo, idx, dst)
	VPERMPS(c.hi, idx, tmp)
	VBLENDVPS(sel, tmp, dst, dst)
}

// decodeLow sign-extends 8 code bytes at src to dwords in idx and decodes
// their low nibbles (the even elements) into dst. Sign extension puts bit 3
// of the high nibble in each dword's sign bit, where decodeHigh's blend
// reads it without a shift.
func (c codebook) decodeLow(src Mem, idx, sel, tmp, dst reg.VecVirtual) {
	VPMOVSXBD(src, idx)
	VPSLLD(U8(28), idx, sel)
	c.lookup(idx, sel, tmp, dst)
}

// decodeHigh decodes the high nibbles (odd elements) of idx into dst.
func (c codebook) decodeHigh(idx, sel, tmp, dst reg.VecVirtual) {
	VPSRLD(U8(4), idx, sel)
	c.lookup(sel, idx, tmp, dst)
}
