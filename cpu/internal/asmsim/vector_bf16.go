package asmsim

import (
	"encoding/binary"
)

// vectorBF16Kernels executes the instructions the bf16 decode-dot kernels
// added: word permutes and widening, the ternary logic all-ones idiom, a
// 256-bit insert, and the two AVX-512 BF16 instructions.
func (m *Machine) vectorBF16Kernels(in *Inst, fp uint64, srcs []Operand, dst Operand, mask *Operand, w int) error {
	// Word- and qword-granular masking is not modelled; the kernels use none.
	if mask != nil && in.Op != "VPTERNLOGD" {
		return m.fault(in, 0, "write mask not supported here")
	}
	switch in.Op {
	case "VPTERNLOGD":
		imm, v, err := m.immVsrcs(in, srcs, fp, 3, w)
		if err != nil {
			return err
		}
		a, err := m.vregArg(in, dst)
		if err != nil {
			return err
		}
		c, b := &v[0], &v[1]
		var r vreg
		for i := 0; i < w; i++ {
			for bit := 0; bit < 8; bit++ {
				idx := (a[i]>>bit&1)<<2 | (b[i]>>bit&1)<<1 | c[i]>>bit&1
				r[i] |= (imm >> idx & 1) << bit
			}
		}
		return m.vset(in, dst, r, w, mask)
	case "VPERMW":
		v, err := m.vsrcs(in, srcs, fp, 2, w)
		if err != nil {
			return err
		}
		tab, idx := &v[0], &v[1]
		n := w / 2
		var r vreg
		for i := 0; i < n; i++ {
			j := int(binary.LittleEndian.Uint16(idx[2*i:])) & (n - 1)
			copy(r[2*i:2*i+2], tab[2*j:2*j+2])
		}
		return m.vset(in, dst, r, w, nil)
	case "VPMOVZXBW":
		if err := m.need(in, srcs, 1); err != nil {
			return err
		}
		b, err := m.vlow(in, srcs[0], fp, w/2)
		if err != nil {
			return err
		}
		var r vreg
		for i := 0; i < w/2; i++ {
			r[2*i] = b[i]
		}
		return m.vset(in, dst, r, w, nil)
	case "VINSERTI64X4":
		if err := m.need(in, srcs, 3); err != nil {
			return err
		}
		imm, err := m.imm8(in)
		if err != nil {
			return err
		}
		if w != 64 {
			return m.fault(in, 0, "destination must be a Z register")
		}
		ins, err := m.vsrc(in, srcs[1], fp, 32)
		if err != nil {
			return err
		}
		r, err := m.vsrc(in, srcs[2], fp, 64)
		if err != nil {
			return err
		}
		h := 32 * int(imm&1)
		copy(r[h:h+32], ins[:32])
		return m.vset(in, dst, r, w, nil)
	case "VDPBF16PS":
		v, err := m.vsrcs(in, srcs, fp, 2, w)
		if err != nil {
			return err
		}
		d, err := m.vregArg(in, dst)
		if err != nil {
			return err
		}
		x, y := &v[0], &v[1]
		var r vreg
		for i := 0; i < w/4; i++ {
			setU32(&r, i, dotBF16(u32(d, i), u32(y, i), u32(x, i)))
		}
		return m.vset(in, dst, r, w, nil)
	case "VCVTNE2PS2BF16":
		v, err := m.vsrcs(in, srcs, fp, 2, w)
		if err != nil {
			return err
		}
		lo, hi := &v[0], &v[1]
		var r vreg
		n := w / 4
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint16(r[2*i:], toBF16(u32(lo, i)))
			binary.LittleEndian.PutUint16(r[2*(n+i):], toBF16(u32(hi, i)))
		}
		return m.vset(in, dst, r, w, nil)
	}
	return m.fault(in, 0, "unknown instruction "+in.Op)
}

// toBF16 is VCVTNE2PS2BF16's conversion: round to nearest even, denormals
// to signed zero, NaNs truncated and quieted (whatever MXCSR says).
func toBF16(x uint32) uint16 {
	switch {
	case x&0x7f800000 == 0:
		return uint16(x>>16) & 0x8000
	case isNaN(x):
		return uint16(x>>16) | 0x40
	case x&0x7fffffff == 0x7f800000:
		return uint16(x >> 16)
	}
	return uint16((x + 0x7fff + (x >> 16 & 1)) >> 16)
}

// daz flushes a float32 denormal to a zero of its sign.
func daz(x uint32) uint32 {
	if x&0x7f800000 == 0 {
		return x & 0x80000000
	}
	return x
}

// dotBF16 is one VDPBF16PS lane: the accumulator d plus the products of
// the bf16 pairs of a and b, high pair first, each sum rounded to nearest
// even, with denormal inputs and results flushed to zero.
func dotBF16(d, a, b uint32) uint32 {
	acc := d
	for _, sh := range []uint{16, 0} {
		acc = dotBF16Step(acc, a>>sh<<16, b>>sh<<16)
	}
	return acc
}

// dotBF16Step adds the product of x and y (bf16 values widened to
// float32) to acc as VDPBF16PS and TDPBF16PS do: rounded to nearest even,
// denormal inputs and results flushed to zero.
func dotBF16Step(acc, x, y uint32) uint32 {
	acc, x, y = daz(acc), daz(x), daz(y)
	r := bits(fma32(flt(x), flt(y), flt(acc)))
	return daz(nan3(x, y, acc, r))
}
