package ptxsim

import (
	"math"
	"math/bits"
)

// canonicalNaN32 is the NaN every f32 arithmetic instruction returns.
const canonicalNaN32 = 0x7fffffff

func f32(v uint64) float32 { return math.Float32frombits(uint32(v)) }
func f64(v uint64) float64 { return math.Float64frombits(v) }
func b32(f float32) uint64 { return uint64(math.Float32bits(f)) }
func b64(f float64) uint64 { return math.Float64bits(f) }

// alu executes the register-to-register instructions.
func (b *blockRun) alu(t *thread, in *inst) error {
	r := t.regs
	switch in.op {
	case opMov:
		r[in.d] = r[in.a] & in.t.mask()
	case opPack:
		w := uint(in.t.size()/len(in.va)) * 8
		var v uint64
		for i, s := range in.va {
			v |= (r[s] & (1<<w - 1)) << (w * uint(i))
		}
		r[in.d] = v
	case opUnpack:
		w := uint(in.t.size()/len(in.vd)) * 8
		v := r[in.a]
		for i, s := range in.vd {
			r[s] = (v >> (w * uint(i))) & (1<<w - 1)
		}
	case opCvta:
		v := r[in.a]
		if in.space == spShared {
			if in.flags&fToSpace != 0 {
				if v < sharedWindow || v >= sharedWindow+1<<32 {
					return b.fail(t, "cvta.to.shared of 0x%x, which is not a shared address", v)
				}
				v -= sharedWindow
			} else {
				v += sharedWindow
			}
		}
		r[in.d] = v & in.t.mask()
	case opSetp:
		p := compare(in, r[in.a], r[in.b])
		q := !p
		if in.flags&fHasC != 0 {
			c := (r[in.c] != 0) != in.cneg
			p, q = combine(in.bop, p, c), combine(in.bop, q, c)
		}
		r[in.d] = boolBit(p)
		if in.flags&fPairDst != 0 {
			r[in.d2] = boolBit(q)
		}
	case opSelp:
		if r[in.c] != 0 {
			r[in.d] = r[in.a]
		} else {
			r[in.d] = r[in.b]
		}
	case opCvt:
		return b.cvt(t, in)
	case opCvtPack:
		hi, lo := f32(r[in.a]), f32(r[in.b])
		if in.t == tyF16x2 {
			r[in.d] = uint64(toHalf(float64(hi), in.rnd))<<16 | uint64(toHalf(float64(lo), in.rnd))
		} else {
			r[in.d] = uint64(toBF16(float64(hi), in.rnd))<<16 | uint64(toBF16(float64(lo), in.rnd))
		}
	default:
		switch {
		case in.t == tyF32:
			return b.aluF32(t, in)
		case in.t == tyF64:
			return b.aluF64(t, in)
		case in.t == tyPred:
			return b.aluPred(t, in)
		}
		return b.aluInt(t, in)
	}
	return nil
}

func boolBit(p bool) uint64 {
	if p {
		return 1
	}
	return 0
}

func combine(op uint8, a, c bool) bool {
	switch op {
	case boolAnd:
		return a && c
	case boolOr:
		return a || c
	}
	return a != c
}

func compare(in *inst, a, b uint64) bool {
	t := in.t
	if t.isFloat() {
		var x, y float64
		if t == tyF32 {
			fx, fy := f32(a), f32(b)
			if in.flags&fFtz != 0 {
				fx, fy = ftz32(fx), ftz32(fy)
			}
			x, y = float64(fx), float64(fy)
		} else {
			x, y = f64(a), f64(b)
		}
		nan := math.IsNaN(x) || math.IsNaN(y)
		switch in.sub {
		case cmpEQ:
			return !nan && x == y
		case cmpNE:
			return !nan && x != y
		case cmpLT:
			return !nan && x < y
		case cmpLE:
			return !nan && x <= y
		case cmpGT:
			return !nan && x > y
		case cmpGE:
			return !nan && x >= y
		case cmpEQU:
			return nan || x == y
		case cmpNEU:
			return nan || x != y
		case cmpLTU:
			return nan || x < y
		case cmpLEU:
			return nan || x <= y
		case cmpGTU:
			return nan || x > y
		case cmpGEU:
			return nan || x >= y
		case cmpNUM:
			return !nan
		case cmpNAN:
			return nan
		}
		return false
	}
	a, b = t.ext(a), t.ext(b)
	signed := t.isSigned()
	lt := a < b
	if signed {
		lt = int64(a) < int64(b)
	}
	switch in.sub {
	case cmpEQ:
		return a == b
	case cmpNE:
		return a != b
	case cmpLT:
		return lt
	case cmpLE:
		return lt || a == b
	case cmpGT:
		return !lt && a != b
	case cmpGE:
		return !lt
	case cmpLO:
		return a < b
	case cmpLS:
		return a <= b
	case cmpHI:
		return a > b
	case cmpHS:
		return a >= b
	}
	return false
}

func (b *blockRun) aluPred(t *thread, in *inst) error {
	r := t.regs
	x, y := r[in.a] != 0, false
	if in.b >= 0 {
		y = r[in.b] != 0
	}
	var v bool
	switch in.op {
	case opAnd:
		v = x && y
	case opOr:
		v = x || y
	case opXor:
		v = x != y
	case opNot:
		v = !x
	default:
		return b.fail(t, "unsupported predicate operation")
	}
	r[in.d] = boolBit(v)
	return nil
}

func (b *blockRun) aluInt(t *thread, in *inst) error {
	r := t.regs
	ty := in.t
	x := ty.ext(r[in.a])
	var y uint64
	if in.b >= 0 {
		y = ty.ext(r[in.b])
	}
	signed := ty.isSigned()
	w := ty.bits()
	var v uint64
	switch in.op {
	case opAdd, opSub:
		if in.op == opSub {
			y = -y
		}
		v = x + y
		if in.flags&fSat != 0 {
			s := int64(int32(x)) + int64(int32(r[in.b]))
			if in.op == opSub {
				s = int64(int32(x)) - int64(int32(r[in.b]))
			}
			v = uint64(clampS32(s))
		}
	case opMul, opMad:
		switch {
		case in.flags&fWide != 0:
			if signed {
				v = uint64(int64(x) * int64(y))
			} else {
				v = x * y
			}
			ty = wideType(ty)
		case in.flags&fHi != 0:
			v = mulHi(x, y, w, signed)
		default:
			v = x * y
		}
		if in.op == opMad {
			v += r[in.c]
		}
	case opDiv, opRem:
		if y&ty.mask() == 0 {
			return b.fail(t, "integer division by zero")
		}
		switch {
		case signed && in.op == opDiv:
			if int64(y) == -1 {
				v = -x
			} else {
				v = uint64(int64(x) / int64(y))
			}
		case signed:
			if int64(y) == -1 {
				v = 0
			} else {
				v = uint64(int64(x) % int64(y))
			}
		case in.op == opDiv:
			v = x / y
		default:
			v = x % y
		}
	case opMin, opMax:
		less := x < y
		if signed {
			less = int64(x) < int64(y)
		}
		if less == (in.op == opMin) {
			v = x
		} else {
			v = y
		}
	case opNeg:
		v = -x
	case opAbs:
		v = x
		if int64(x) < 0 {
			v = -x
		}
	case opNot:
		v = ^x
	case opAnd:
		v = x & y
	case opOr:
		v = x | y
	case opXor:
		v = x ^ y
	case opShl:
		s := r[in.b] & 0xffffffff
		if s >= uint64(w) {
			v = 0
		} else {
			v = x << s
		}
	case opShr:
		s := r[in.b] & 0xffffffff
		if s >= uint64(w) {
			s = uint64(w)
		}
		if signed {
			if s >= 64 {
				s = 63
			}
			v = uint64(int64(x) >> s)
		} else if s >= 64 {
			v = 0
		} else {
			v = (x & ty.mask()) >> s
		}
	case opPopc:
		v = uint64(bits.OnesCount64(x & ty.mask()))
	case opClz:
		v = uint64(bits.LeadingZeros64(x&ty.mask()) - (64 - int(w)))
	case opBrev:
		v = bits.Reverse64(x) >> (64 - w)
	case opBfe:
		pos, ln := r[in.b]&0xff, r[in.c]&0xff
		if ln == 0 {
			v = 0
			break
		}
		var sbit uint64
		if signed {
			p := pos + ln - 1
			if p >= uint64(w) {
				p = uint64(w) - 1
			}
			sbit = (x >> p) & 1
		}
		for i := uint64(0); i < uint64(w); i++ {
			var bit uint64
			if i < ln && pos+i < uint64(w) {
				bit = (x >> (pos + i)) & 1
			} else {
				bit = sbit
			}
			v |= bit << i
		}
	case opBfi:
		pos, ln := r[in.c]&0xff, r[in.e]&0xff
		v = y
		for i := uint64(0); i < ln && pos+i < uint64(w); i++ {
			v = v&^(1<<(pos+i)) | ((x>>i)&1)<<(pos+i)
		}
	case opPrmt:
		src := (y&0xffffffff)<<32 | x&0xffffffff
		sel := r[in.c]
		for i := uint(0); i < 4; i++ {
			s := (sel >> (4 * i)) & 0xf
			byt := (src >> (8 * (s & 7))) & 0xff
			if s&8 != 0 {
				// replicate the sign bit of the selected byte
				byt = 0
				if (src>>(8*(s&7)))&0x80 != 0 {
					byt = 0xff
				}
			}
			v |= byt << (8 * i)
		}
	case opLop3:
		lut := r[in.e] & 0xff
		c := r[in.c]
		for i := uint(0); i < 32; i++ {
			idx := ((x>>i)&1)<<2 | ((y>>i)&1)<<1 | (c>>i)&1
			v |= ((lut >> idx) & 1) << i
		}
	default:
		return b.fail(t, "instruction not supported for %v", in.t)
	}
	r[in.d] = ty.ext(v)
	return nil
}

func clampS32(s int64) int32 {
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	if s < math.MinInt32 {
		return math.MinInt32
	}
	return int32(s)
}

func mulHi(x, y uint64, w uint, signed bool) uint64 {
	if w < 64 {
		if signed {
			return uint64((int64(x) * int64(y)) >> w)
		}
		return (x * y) >> w
	}
	hi, _ := bits.Mul64(x, y)
	if signed {
		if int64(x) < 0 {
			hi -= y
		}
		if int64(y) < 0 {
			hi -= x
		}
	}
	return hi
}
