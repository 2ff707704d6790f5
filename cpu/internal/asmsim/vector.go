package asmsim

import (
	"encoding/binary"
	"fmt"
	"math"
)

type vreg = [64]byte

func u32(v *vreg, i int) uint32       { return binary.LittleEndian.Uint32(v[4*i:]) }
func setU32(v *vreg, i int, x uint32) { binary.LittleEndian.PutUint32(v[4*i:], x) }
func f32(v *vreg, i int) float32      { return math.Float32frombits(u32(v, i)) }
func u64(v *vreg, i int) uint64       { return binary.LittleEndian.Uint64(v[8*i:]) }
func setU64(v *vreg, i int, x uint64) { binary.LittleEndian.PutUint64(v[8*i:], x) }

// vsrc reads a vector source of w bytes: a register, w bytes of memory, or
// (.BCST) one 4-byte element broadcast.
func (m *Machine) vsrc(in *Inst, o Operand, fp uint64, w int) (vreg, error) {
	var v vreg
	switch o.Kind {
	case KindVec:
		return m.vec[o.Reg], nil
	case KindMem:
		if in.Bcst {
			b, err := m.load(in, o, fp, 4, 0)
			if err != nil {
				return v, err
			}
			for i := 0; i < w; i += 4 {
				copy(v[i:], b)
			}
			return v, nil
		}
		b, err := m.load(in, o, fp, w, 0)
		if err != nil {
			return v, err
		}
		copy(v[:], b)
		return v, nil
	}
	return v, m.fault(in, 0, "bad vector source operand")
}

// maxSrcs is the most vector sources an instruction reads (VBLENDVPS).
const maxSrcs = 3

// need faults unless an instruction has n source operands.
func (m *Machine) need(in *Inst, srcs []Operand, n int) error {
	if len(srcs) != n {
		return m.fault(in, 0, fmt.Sprintf("%s takes %d source operands", in.Op, n))
	}
	return nil
}

// vsrcs reads an instruction's n sources, in Go order, as w-byte vectors
// (see vsrc), faulting unless it has n. They come back in an array, not a
// slice, so that the millions of simulated instructions allocate nothing.
func (m *Machine) vsrcs(in *Inst, srcs []Operand, fp uint64, n, w int) (v [maxSrcs]vreg, err error) {
	if err := m.need(in, srcs, n); err != nil {
		return v, err
	}
	for i, o := range srcs {
		if v[i], err = m.vsrc(in, o, fp, w); err != nil {
			return v, err
		}
	}
	return v, nil
}

// immVsrcs is vsrcs for an instruction whose first source is an 8-bit
// immediate: it returns the immediate and the n-1 vectors after it.
func (m *Machine) immVsrcs(in *Inst, srcs []Operand, fp uint64, n, w int) (uint8, [maxSrcs]vreg, error) {
	if err := m.need(in, srcs, n); err != nil {
		return 0, [maxSrcs]vreg{}, err
	}
	imm, err := m.imm8(in)
	if err != nil {
		return 0, [maxSrcs]vreg{}, err
	}
	v, err := m.vsrcs(in, srcs[1:], fp, n-1, w)
	return imm, v, err
}

// vlow reads the n bytes a widening or broadcasting instruction takes from
// its source: the low bytes of a register, or n bytes of memory.
func (m *Machine) vlow(in *Inst, o Operand, fp uint64, n int) ([]byte, error) {
	switch o.Kind {
	case KindMem:
		return m.load(in, o, fp, n, 0)
	case KindVec:
		return m.vec[o.Reg][:n], nil
	}
	return nil, m.fault(in, 0, "bad source")
}

// vregArg is the vector register o names, faulting where o is not one.
func (m *Machine) vregArg(in *Inst, o Operand) (*vreg, error) {
	if o.Kind != KindVec {
		return nil, m.fault(in, 0, "operand is not a vector register")
	}
	return &m.vec[o.Reg], nil
}

// vset writes the w bytes of r to register o and, as VEX and EVEX
// encodings do, zeroes the bits above them. With a write mask, dword lanes
// whose bit is clear keep their value (or are zeroed with .Z).
func (m *Machine) vset(in *Inst, o Operand, r vreg, w int, mask *Operand) error {
	d, err := m.vregArg(in, o)
	if err != nil {
		return err
	}
	if mask != nil {
		k := m.k[mask.Reg]
		for i := 0; i < w/4; i++ {
			if k>>i&1 == 0 {
				if in.Zero {
					setU32(&r, i, 0)
				} else {
					setU32(&r, i, u32(d, i))
				}
			}
		}
	}
	for i := w; i < 64; i++ {
		r[i] = 0
	}
	*d = r
	return nil
}

// imm8 reads an instruction's 8-bit immediate, which Go order puts first.
func (m *Machine) imm8(in *Inst) (uint8, error) {
	if len(in.Args) == 0 || in.Args[0].Kind != KindImm {
		return 0, m.fault(in, 0, "first operand must be an immediate")
	}
	return uint8(in.Args[0].Imm), nil
}

// fma32 is the fused a·b+c of float32s, rounded once: the product is exact
// in float64 and the sum is corrected where float64 rounding landed on a
// float32 rounding midpoint (the only case double rounding goes wrong).
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	r := float32(s)
	if math.IsInf(s, 0) || math.IsNaN(s) || float64(r) == s {
		return r
	}
	bb := s - p
	e := (p - (s - bb)) + (float64(c) - bb)
	if e == 0 {
		return r
	}
	other := math.Nextafter32(r, float32(math.Copysign(math.Inf(1), s-float64(r))))
	if (float64(r)+float64(other))/2 != s {
		return r
	}
	lo, hi := min(r, other), max(r, other)
	if e > 0 {
		return hi
	}
	return lo
}

// cmpPS evaluates VCMPPS predicate p on x (first source in Intel order)
// against y.
func cmpPS(p uint8, x, y float32) (bool, bool) {
	unord := x != x || y != y
	switch p {
	case 0x00, 0x10:
		return !unord && x == y, true
	case 0x01, 0x11:
		return !unord && x < y, true
	case 0x02, 0x12:
		return !unord && x <= y, true
	case 0x04, 0x14:
		return unord || x != y, true
	case 0x0d, 0x1d:
		return !unord && x >= y, true
	case 0x0e, 0x1e:
		return !unord && x > y, true
	}
	return false, false
}

// maxPS is x86 MAXPS: the second operand unless the first is greater
// (so NaNs and equal zeros give the second).
func maxPS(x, y float32) float32 {
	if x > y {
		return x
	}
	return y
}

func bits(f float32) uint32 { return math.Float32bits(f) }
func flt(u uint32) float32  { return math.Float32frombits(u) }

const (
	quietBit   = 0x00400000
	defaultNaN = 0xffc00000 // x86's result of an invalid operation
)

func isNaN(u uint32) bool { return u&0x7fffffff > 0x7f800000 }

// nan2 gives a binary operation's result r (computed by Go) x86's NaN: the
// first source's NaN quieted, else the second's, else the default NaN.
func nan2(src1, src2, r uint32) uint32 {
	switch {
	case !isNaN(r):
		return r
	case isNaN(src1):
		return src1 | quietBit
	case isNaN(src2):
		return src2 | quietBit
	}
	return defaultNaN
}

// nan3 is nan2 for the fused multiply-add a·b+c.
func nan3(a, b, c, r uint32) uint32 {
	switch {
	case !isNaN(r):
		return r
	case isNaN(a):
		return a | quietBit
	case isNaN(b):
		return b | quietBit
	case isNaN(c):
		return c | quietBit
	}
	return defaultNaN
}

// laneOps are the element-wise dword operations: y op x, with d the
// destination's old value (the FMA's addend).
var laneOps = map[string]func(y, x, d uint32) uint32{
	"VADDPS":      func(y, x, _ uint32) uint32 { return nan2(y, x, bits(flt(y)+flt(x))) },
	"VMULPS":      func(y, x, _ uint32) uint32 { return nan2(y, x, bits(flt(y)*flt(x))) },
	"VDIVPS":      func(y, x, _ uint32) uint32 { return nan2(y, x, bits(flt(y)/flt(x))) },
	"VMAXPS":      func(y, x, _ uint32) uint32 { return bits(maxPS(flt(y), flt(x))) },
	"VFMADD231PS": func(y, x, d uint32) uint32 { return nan3(y, x, d, bits(fma32(flt(y), flt(x), flt(d)))) },
	"VPADDD":      func(y, x, _ uint32) uint32 { return y + x },
	"VPSUBD":      func(y, x, _ uint32) uint32 { return y - x },
	"VPMAXUD":     func(y, x, _ uint32) uint32 { return max(y, x) },
	"VPCMPGTD": func(y, x, _ uint32) uint32 {
		if int32(y) > int32(x) {
			return ^uint32(0)
		}
		return 0
	},
	"VPXORD": func(y, x, _ uint32) uint32 { return y ^ x },
	"VXORPS": func(y, x, _ uint32) uint32 { return y ^ x },
	"VPAND":  func(y, x, _ uint32) uint32 { return y & x },
	"VPANDD": func(y, x, _ uint32) uint32 { return y & x },
	"VANDPS": func(y, x, _ uint32) uint32 { return y & x },
	"VPOR":   func(y, x, _ uint32) uint32 { return y | x },
	"VPORD":  func(y, x, _ uint32) uint32 { return y | x },
}

// width is the vector width of an instruction: its destination
// register's, or for a store or a compare into a mask register its last
// vector source's.
func width(a []Operand) int {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i].Kind == KindVec {
			return a[i].Width
		}
	}
	return 0
}

func (m *Machine) vector(in *Inst, fp uint64) error {
	a := in.Args
	var mask *Operand
	srcs := a
	var dst Operand
	if len(a) > 0 {
		dst = a[len(a)-1]
		srcs = a[:len(a)-1]
		if len(a) >= 3 && a[len(a)-2].Kind == KindMask {
			mask = &a[len(a)-2]
			srcs = a[:len(a)-2]
		}
	}
	noMask := func() error {
		if mask != nil {
			return m.fault(in, 0, "write mask not supported here")
		}
		return nil
	}
	w := width(a)
	switch in.Op {
	case "VZEROUPPER", "SFENCE", "PREFETCHT0", "KMOVW", "KORTESTW":
	default:
		if w == 0 {
			return m.fault(in, 0, "needs a vector register operand")
		}
	}
	switch in.Op {
	case "VZEROUPPER":
		// Registers 16 to 31, which no VEX encoding reaches, keep their
		// upper bits.
		for i := 0; i < 16; i++ {
			for j := 16; j < 64; j++ {
				m.vec[i][j] = 0
			}
		}
		return nil
	case "SFENCE":
		return nil
	case "PREFETCHT0":
		// A prefetch never faults: only its address is formed.
		if len(a) != 1 || a[0].Kind != KindMem {
			return m.fault(in, 0, "PREFETCHT0 takes one memory operand")
		}
		_, err := m.addr(in, a[0], fp)
		return err
	case "VMOVUPS", "VMOVAPS", "VMOVDQU", "VMOVDQU32", "VMOVDQA32", "VMOVNTPS":
		if err := m.need(in, srcs, 1); err != nil {
			return err
		}
		align := 0
		switch in.Op {
		case "VMOVAPS", "VMOVDQA32", "VMOVNTPS":
			align = w
		}
		if dst.Kind == KindMem {
			if err := noMask(); err != nil {
				return err
			}
			if srcs[0].Kind != KindVec {
				return m.fault(in, 0, "bad store source")
			}
			v := m.vec[srcs[0].Reg]
			return m.store(in, dst, fp, v[:w], align)
		}
		if in.Op == "VMOVNTPS" {
			return m.fault(in, 0, "VMOVNTPS stores only")
		}
		var v vreg
		if srcs[0].Kind == KindMem {
			b, err := m.load(in, srcs[0], fp, w, align)
			if err != nil {
				return err
			}
			copy(v[:], b)
		} else {
			var err error
			if v, err = m.vsrc(in, srcs[0], fp, w); err != nil {
				return err
			}
		}
		return m.vset(in, dst, v, w, mask)
	case "VMOVSS", "VMOVD":
		if err := m.need(in, srcs, 1); err != nil {
			return err
		}
		if err := noMask(); err != nil {
			return err
		}
		if dst.Kind == KindMem {
			if srcs[0].Kind != KindVec {
				return m.fault(in, 0, "bad store source")
			}
			return m.store(in, dst, fp, m.vec[srcs[0].Reg][:4], 0)
		}
		if srcs[0].Kind != KindMem {
			return m.fault(in, 0, "register form not supported")
		}
		b, err := m.load(in, srcs[0], fp, 4, 0)
		if err != nil {
			return err
		}
		var v vreg
		copy(v[:], b)
		return m.vset(in, dst, v, 16, nil)
	case "VBROADCASTSS", "VPBROADCASTD":
		if err := m.need(in, srcs, 1); err != nil {
			return err
		}
		e, err := m.vlow(in, srcs[0], fp, 4)
		if err != nil {
			return err
		}
		var v vreg
		for i := 0; i < w; i += 4 {
			copy(v[i:], e)
		}
		return m.vset(in, dst, v, w, mask)
	case "VADDPS", "VMULPS", "VDIVPS", "VMAXPS", "VFMADD231PS",
		"VPADDD", "VPSUBD", "VPMAXUD", "VPCMPGTD",
		"VPXORD", "VXORPS", "VPAND", "VPANDD", "VANDPS", "VPOR", "VPORD":
		v, err := m.vsrcs(in, srcs, fp, 2, w)
		if err != nil {
			return err
		}
		d, err := m.vregArg(in, dst)
		if err != nil {
			return err
		}
		op, x, y := laneOps[in.Op], &v[0], &v[1]
		var r vreg
		// Go order: op x, y, d computes d = y op x (Intel: d, y, x).
		for i := 0; i < w/4; i++ {
			setU32(&r, i, op(u32(y, i), u32(x, i), u32(d, i)))
		}
		return m.vset(in, dst, r, w, mask)
	case "VPERMPS":
		v, err := m.vsrcs(in, srcs, fp, 2, w)
		if err != nil {
			return err
		}
		tab, idx := &v[0], &v[1]
		n := w / 4
		var r vreg
		for i := 0; i < n; i++ {
			setU32(&r, i, u32(tab, int(u32(idx, i))&(n-1)))
		}
		return m.vset(in, dst, r, w, mask)
	case "VPERMI2PS":
		v, err := m.vsrcs(in, srcs, fp, 2, w)
		if err != nil {
			return err
		}
		d, err := m.vregArg(in, dst)
		if err != nil {
			return err
		}
		t2, t1 := &v[0], &v[1]
		n := w / 4
		var r vreg
		for i := 0; i < n; i++ {
			s := int(u32(d, i)) & (2*n - 1)
			if s < n {
				setU32(&r, i, u32(t1, s))
			} else {
				setU32(&r, i, u32(t2, s-n))
			}
		}
		return m.vset(in, dst, r, w, mask)
	case "VSHUFF64X2", "VSHUFI64X2":
		imm, v, err := m.immVsrcs(in, srcs, fp, 3, w)
		if err != nil {
			return err
		}
		if w != 64 {
			return m.fault(in, 0, "only the 512-bit form is supported")
		}
		var r vreg
		for l := 0; l < 4; l++ {
			sel := int(imm>>(2*l)) & 3
			src := &v[1]
			if l >= 2 {
				src = &v[0]
			}
			copy(r[16*l:16*l+16], src[16*sel:16*sel+16])
		}
		return m.vset(in, dst, r, w, mask)
	case "VPSHUFB":
		if err := noMask(); err != nil {
			return err
		}
		v, err := m.vsrcs(in, srcs, fp, 2, w)
		if err != nil {
			return err
		}
		c, s := &v[0], &v[1]
		var r vreg
		for i := 0; i < w; i++ {
			if c[i]&0x80 == 0 {
				r[i] = s[i&^15+int(c[i]&15)]
			}
		}
		return m.vset(in, dst, r, w, nil)
	case "VPTERNLOGD", "VPERMW", "VPMOVZXBW", "VINSERTI64X4", "VDPBF16PS", "VCVTNE2PS2BF16":
		return m.vectorBF16Kernels(in, fp, srcs, dst, mask, w)
	case "VPSRLD", "VPSRLW", "VPSRLQ", "VPSLLD", "VPSLLW":
		imm, v, err := m.immVsrcs(in, srcs, fp, 2, w)
		if err != nil {
			return err
		}
		s, n := &v[0], uint(imm)
		var r vreg
		switch in.Op {
		case "VPSRLD", "VPSLLD":
			for i := 0; i < w/4; i++ {
				v := u32(s, i)
				if n > 31 {
					v = 0
				} else if in.Op == "VPSRLD" {
					v >>= n
				} else {
					v <<= n
				}
				setU32(&r, i, v)
			}
		case "VPSRLW", "VPSLLW":
			for i := 0; i < w/2; i++ {
				v := binary.LittleEndian.Uint16(s[2*i:])
				if n > 15 {
					v = 0
				} else if in.Op == "VPSRLW" {
					v >>= n
				} else {
					v <<= n
				}
				binary.LittleEndian.PutUint16(r[2*i:], v)
			}
		case "VPSRLQ":
			for i := 0; i < w/8; i++ {
				v := u64(s, i)
				if n > 63 {
					v = 0
				} else {
					v >>= n
				}
				setU64(&r, i, v)
			}
		}
		// Only the dword shifts take a (dword-granular) write mask.
		if in.Op != "VPSRLD" && in.Op != "VPSLLD" && mask != nil {
			return noMask()
		}
		return m.vset(in, dst, r, w, mask)
	case "VPMOVZXBD", "VPMOVSXBD":
		if err := m.need(in, srcs, 1); err != nil {
			return err
		}
		b, err := m.vlow(in, srcs[0], fp, w/4)
		if err != nil {
			return err
		}
		var r vreg
		for i := 0; i < w/4; i++ {
			v := uint32(b[i])
			if in.Op == "VPMOVSXBD" {
				v = uint32(int32(int8(b[i])))
			}
			setU32(&r, i, v)
		}
		return m.vset(in, dst, r, w, mask)
	case "VPUNPCKLBW", "VPUNPCKHBW", "VPUNPCKLWD", "VPUNPCKHWD", "VUNPCKLPS", "VUNPCKHPS":
		if err := noMask(); err != nil {
			return err
		}
		v, err := m.vsrcs(in, srcs, fp, 2, w)
		if err != nil {
			return err
		}
		x, y := &v[0], &v[1]
		e := map[string]int{"VPUNPCKLBW": 1, "VPUNPCKHBW": 1, "VPUNPCKLWD": 2, "VPUNPCKHWD": 2, "VUNPCKLPS": 4, "VUNPCKHPS": 4}[in.Op]
		high := in.Op[len(in.Op)-3] == 'H' || in.Op == "VUNPCKHPS"
		var r vreg
		for l := 0; l < w; l += 16 {
			from := l
			if high {
				from += 8
			}
			for j := 0; j < 8/e; j++ {
				copy(r[l+2*j*e:], y[from+j*e:from+j*e+e])
				copy(r[l+(2*j+1)*e:], x[from+j*e:from+j*e+e])
			}
		}
		return m.vset(in, dst, r, w, nil)
	case "VCMPPS", "VPCMPUD":
		// Into a mask register, w is the sources' width (see width).
		p, v, err := m.immVsrcs(in, srcs, fp, 3, w)
		if err != nil {
			return err
		}
		x, y := &v[0], &v[1]
		var bits uint64
		var r vreg
		for i := 0; i < w/4; i++ {
			var t, ok bool
			if in.Op == "VCMPPS" {
				t, ok = cmpPS(p, f32(y, i), f32(x, i))
			} else {
				t, ok = cmpUD(p, u32(y, i), u32(x, i))
			}
			if !ok {
				return m.fault(in, 0, fmt.Sprintf("comparison predicate %#x not supported", p))
			}
			if t {
				bits |= 1 << i
				setU32(&r, i, ^uint32(0))
			}
		}
		if dst.Kind == KindMask {
			if mask != nil {
				bits &= m.k[mask.Reg]
			}
			m.k[dst.Reg] = bits
			return nil
		}
		if in.Op != "VCMPPS" {
			return m.fault(in, 0, "destination must be a mask register")
		}
		return m.vset(in, dst, r, w, mask)
	case "VBLENDPS":
		if err := noMask(); err != nil {
			return err
		}
		imm, v, err := m.immVsrcs(in, srcs, fp, 3, w)
		if err != nil {
			return err
		}
		x, r := &v[0], v[1]
		for i := 0; i < w/4; i++ {
			if imm>>(i%8)&1 != 0 {
				setU32(&r, i, u32(x, i))
			}
		}
		return m.vset(in, dst, r, w, nil)
	case "VBLENDVPS":
		if err := noMask(); err != nil {
			return err
		}
		v, err := m.vsrcs(in, srcs, fp, 3, w)
		if err != nil {
			return err
		}
		sel, x, r := &v[0], &v[1], v[2]
		for i := 0; i < w/4; i++ {
			if int32(u32(sel, i)) < 0 {
				setU32(&r, i, u32(x, i))
			}
		}
		return m.vset(in, dst, r, w, nil)
	case "VBLENDMPS":
		v, err := m.vsrcs(in, srcs, fp, 2, w)
		if err != nil {
			return err
		}
		k := ^uint64(0)
		if mask != nil {
			k = m.k[mask.Reg]
		}
		x, r := &v[0], v[1]
		for i := 0; i < w/4; i++ {
			if k>>i&1 != 0 {
				setU32(&r, i, u32(x, i))
			} else if in.Zero {
				setU32(&r, i, 0)
			}
		}
		return m.vset(in, dst, r, w, nil)
	case "VPTEST":
		// Both operands are sources: VPTEST only sets flags.
		v, err := m.vsrcs(in, a, fp, 2, w)
		if err != nil {
			return err
		}
		and, andn := byte(0), byte(0)
		for i := 0; i < w; i++ {
			and |= v[0][i] & v[1][i]
			andn |= v[0][i] &^ v[1][i]
		}
		m.zf, m.cf, m.sf, m.of = and == 0, andn == 0, false, false
		return nil
	case "VPSHUFD", "VPERMILPS":
		imm, v, err := m.immVsrcs(in, srcs, fp, 2, w)
		if err != nil {
			return err
		}
		var r vreg
		for i := 0; i < w/4; i++ {
			setU32(&r, i, u32(&v[0], i&^3+int(imm>>(2*(i&3)))&3))
		}
		return m.vset(in, dst, r, w, mask)
	case "VPERM2F128":
		if err := noMask(); err != nil {
			return err
		}
		imm, v, err := m.immVsrcs(in, srcs, fp, 3, 32)
		if err != nil {
			return err
		}
		var r vreg
		for h := 0; h < 2; h++ {
			c := imm >> (4 * h)
			if c&8 != 0 {
				continue
			}
			src := &v[1]
			if c&2 != 0 {
				src = &v[0]
			}
			copy(r[16*h:16*h+16], src[16*int(c&1):])
		}
		return m.vset(in, dst, r, 32, nil)
	case "VEXTRACTI128", "VEXTRACTF128":
		if err := noMask(); err != nil {
			return err
		}
		if err := m.need(in, srcs, 2); err != nil {
			return err
		}
		imm, err := m.imm8(in)
		if err != nil {
			return err
		}
		s, err := m.vregArg(in, srcs[1])
		if err != nil {
			return err
		}
		half := s[16*int(imm&1) : 16*int(imm&1)+16]
		if dst.Kind == KindMem {
			return m.store(in, dst, fp, half, 0)
		}
		var r vreg
		copy(r[:], half)
		return m.vset(in, dst, r, 16, nil)
	case "VPMOVQB":
		if err := noMask(); err != nil {
			return err
		}
		if err := m.need(in, srcs, 1); err != nil {
			return err
		}
		s, err := m.vregArg(in, srcs[0])
		if err != nil {
			return err
		}
		n := srcs[0].Width / 8
		var r vreg
		for i := 0; i < n; i++ {
			r[i] = s[8*i]
		}
		if dst.Kind == KindMem {
			return m.store(in, dst, fp, r[:n], 0)
		}
		return m.vset(in, dst, r, 16, nil)
	case "KMOVW":
		if len(a) != 2 {
			return m.fault(in, 0, "KMOVW takes 2 operands")
		}
		switch {
		case a[0].Kind == KindGPR && a[1].Kind == KindMask:
			m.k[a[1].Reg] = uint64(uint16(m.gpr[a[0].Reg]))
		case a[0].Kind == KindMask && a[1].Kind == KindGPR:
			m.gpr[a[1].Reg] = uint64(uint16(m.k[a[0].Reg]))
		case a[0].Kind == KindMask && a[1].Kind == KindMask:
			m.k[a[1].Reg] = uint64(uint16(m.k[a[0].Reg]))
		default:
			return m.fault(in, 0, "form not supported")
		}
		return nil
	case "KORTESTW":
		if len(a) != 2 || a[0].Kind != KindMask || a[1].Kind != KindMask {
			return m.fault(in, 0, "KORTESTW takes 2 mask registers")
		}
		t := uint16(m.k[a[0].Reg] | m.k[a[1].Reg])
		m.zf, m.cf, m.sf, m.of = t == 0, t == 0xffff, false, false
		return nil
	}
	return m.fault(in, 0, "unknown instruction "+in.Op)
}

// cmpUD evaluates VPCMPUD predicate p (the unsigned dword comparisons) on
// x (first source in Intel order) against y; it is cmpPS for integers.
func cmpUD(p uint8, x, y uint32) (bool, bool) {
	switch p {
	case 0:
		return x == y, true
	case 1:
		return x < y, true
	case 2:
		return x <= y, true
	case 3:
		return false, true
	case 4:
		return x != y, true
	case 5:
		return x >= y, true
	case 6:
		return x > y, true
	case 7:
		return true, true
	}
	return false, false
}
