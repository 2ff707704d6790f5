package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
)

// interleave512 puts the even and odd codes of a group back in element
// order: for VPERMI2PS, index i < 16 picks even[i], 16+i picks odd[i].
func interleave512() Mem {
	m := GLOBL("interleave512", RODATA|NOPTR)
	for j := range 32 {
		v := j / 2
		if j >= 16 {
			v = 8 + (j-16)/2
		}
		if j%2 == 1 {
			v += 16
		}
		DATA(4*j, U32(v))
	}
	return m
}

// decode512 writes the AVX-512 twin of decode: whole blocks expanded to
// float32 values in element order, each code times its block's scale (one
// rounding, as in Go), prefetching the codes pf bytes ahead. With stream,
// the values bypass the caches (non-temporal stores; dst must be 64-byte
// aligned): for outputs too large to stay there, the stores then need not
// read each line first.
func decode512(interleave Mem, stream bool) {
	name, store := "decodeAVX512", func(v, m Op) { VMOVUPS(v, m) }
	if stream {
		name, store = "decodeAVX512Stream", VMOVNTPS
	}
	TEXT(name, NOSPLIT, "func(dst *float32, codes *byte, scales *float32, blocks int, blockSize int, pf int, tab *[16]float32)")
	if stream {
		Doc(name + " is decodeAVX512 with non-temporal stores to a 64-byte aligned dst.")
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
	cb := loadCodebook512(Load(Param("tab"), GP64()))
	pf := Load(Param("pf"), GP64())
	ix0, ix1 := ZMM(), ZMM()
	VMOVUPS(interleave, ix0)
	VMOVUPS(interleave.Offset(64), ix1)

	scale, idx, even, odd, o0, o1 := ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	gEnd := GP64()
	Label(name + "_block")
	VBROADCASTSS(Mem{Base: s}, scale)
	MOVQ(c, gEnd)
	ADDQ(half, gEnd)
	Label(name + "_group")
	PREFETCHT0(Mem{Base: c, Index: pf, Scale: 1})
	cb.decode(Mem{Base: c}, idx, even, odd)
	VMULPS(scale, even, even)
	VMULPS(scale, odd, odd)
	VMOVAPS(ix0, o0)
	VPERMI2PS(odd, even, o0)
	VMOVAPS(ix1, o1)
	VPERMI2PS(odd, even, o1)
	store(o0, Mem{Base: d})
	store(o1, Mem{Base: d, Disp: 64})
	ADDQ(U8(16), c)
	ADDQ(U32(128), d)
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
