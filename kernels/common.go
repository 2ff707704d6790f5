package kernels

import "github.com/nf4go/nf4/kernels/ptx"

// scaleParams declares the parameters that carry block scales: one float32
// absmax array, or the four double-quantization inputs.
type scaleParams struct {
	dq                         bool
	absmax                     ptx.Sym
	q, nestedMap, nestedAbsmax ptx.Sym
	offset                     ptx.Sym
}

func declareScales(k *ptx.Kernel, dq bool) scaleParams {
	if !dq {
		return scaleParams{absmax: k.Param("absmax")}
	}
	return scaleParams{
		dq:           true,
		q:            k.Param("absmax_q"),
		nestedMap:    k.Param("nested_map"),
		nestedAbsmax: k.Param("nested_absmax"),
		offset:       k.Param("nested_offset"),
	}
}

func scaleParamNames(dq bool) []string {
	if !dq {
		return []string{"absmax"}
	}
	return []string{"absmax_q", "nested_map", "nested_absmax", "nested_offset"}
}

// scales loads the scale pointers once so the hot loop only indexes them.
type scales struct {
	dq                         bool
	absmax                     ptx.Reg
	q, nestedMap, nestedAbsmax ptx.Reg
	offset                     ptx.Reg // f32
	count                      ptx.Reg // number of blocks (u32); bounds the word reads of q
}

func (p scaleParams) load(k *ptx.Kernel) scales {
	if !p.dq {
		return scales{absmax: k.LoadParam(p.absmax)}
	}
	off := k.LoadParam(p.offset)
	lo := k.Cvt("", ptx.U32, ptx.U64, off)
	return scales{
		dq:           true,
		q:            k.LoadParam(p.q),
		nestedMap:    k.LoadParam(p.nestedMap),
		nestedAbsmax: k.LoadParam(p.nestedAbsmax),
		offset:       k.Bitcast(ptx.F32, lo),
	}
}

// at returns the float32 absmax of block idx (u32). The double-quantized
// byte is read as part of its aligned 32-bit word; only the last 1–3 bytes
// of a q array whose length is not a multiple of 4 take a byte load, so no
// read passes the end of the array.
func (s scales) at(k *ptx.Kernel, idx ptx.Reg) ptx.Reg {
	if !s.dq {
		return k.Ld("global.nc", ptx.F32, ptx.Addr{Base: index(k, s.absmax, idx, 4)})
	}
	word := k.Op("and", ptx.B32, idx, ptx.Imm(-4))
	q := k.Mov(ptx.U32, ptx.Imm(0))
	whole := k.Setp("le", ptx.U32, k.Op("add", ptx.U32, word, ptx.Imm(4)), s.count)
	k.IfElse(whole, func() {
		w := k.Ld("global.nc", ptx.U32, ptx.Addr{Base: index(k, s.q, word, 1)})
		pos := k.Shift("shl", ptx.B32, k.Op("and", ptx.B32, idx, ptx.Imm(3)), ptx.Imm(3))
		k.MovTo(q, ptx.U32, k.Bfe(ptx.U32, w, pos, ptx.Imm(8)))
	}, func() {
		b := k.Ld("global.nc", ptx.U8, ptx.Addr{Base: index(k, s.q, idx, 1)})
		k.MovTo(q, ptx.U32, k.Cvt("", ptx.U32, ptx.U16, b))
	})
	nm := k.Ld("global.nc", ptx.F32, ptx.Addr{Base: index(k, s.nestedMap, q, 4)})
	grp := k.Shift("shr", ptx.U32, idx, ptx.Imm(8))
	na := k.Ld("global.nc", ptx.F32, ptx.Addr{Base: index(k, s.nestedAbsmax, grp, 4)})
	// .rn on both keeps ptxas from contracting them into an fma.
	return k.Op("add.rn", ptx.F32, k.Op("mul.rn", ptx.F32, nm, na), s.offset)
}

// index is base + idx*size as a 64-bit address (idx is u32).
func index(k *ptx.Kernel, base, idx ptx.Reg, size int) ptx.Reg {
	return k.Op("add", ptx.U64, base, k.MulWide(ptx.U32, idx, ptx.Imm(size)))
}

// laneLUT gives each lane the codebook entry for (lane & 15), so a code c
// decodes with one shfl.idx from lane c: no shared memory, no barrier.
func laneLUT(k *ptx.Kernel, cb ptx.Sym) ptx.Reg {
	lane := k.Special(ptx.LaneID)
	off := k.Shift("shl", ptx.B32, k.Op("and", ptx.B32, lane, ptx.Imm(15)), ptx.Imm(2))
	base := k.Mov(ptx.U64, cb)
	return k.Ld("const", ptx.F32, ptx.Addr{Base: index(k, base, off, 1)})
}

// decode8 turns the 8 codes of word w (element 2j in the low nibble, so
// element i is bits 4i..4i+3) into codebook values. Every lane of the warp
// must execute it.
func decode8(k *ptx.Kernel, lut, w ptx.Reg) [8]ptx.Reg {
	var v [8]ptx.Reg
	for i := range v {
		c := k.Bfe(ptx.U32, w, ptx.Imm(4*i), ptx.Imm(4))
		v[i] = k.Shfl("idx", lut, c, 31)
	}
	return v
}

// globalThread is ctaid.x*block + tid.x.
func globalThread(k *ptx.Kernel, block int) ptx.Reg {
	return k.Op("mad.lo", ptx.U32, k.Special(ptx.CtaidX), ptx.Imm(block), k.Special(ptx.TidX))
}
