package ptxsim

import "math"

// round32 rounds s+e (an exact sum whose error term is e) to float32 in
// mode m without double rounding: nearest goes through round-to-odd in
// float64, directed modes fix up the one case where s is itself an f32.
func round32(s, e float64, m rmode) float32 {
	if math.IsInf(s, 0) || math.IsNaN(s) || e == 0 {
		return toF32(s, m)
	}
	if m == rmRN || m == rmNone {
		if math.Float64bits(s)&1 == 0 {
			s = math.Nextafter(s, math.Copysign(math.Inf(1), e))
		}
		return float32(s)
	}
	r := toF32(s, m)
	if float64(r) != s {
		return r
	}
	switch {
	case m == rmRZ && (e > 0) != (s > 0):
		return math.Nextafter32(r, 0)
	case m == rmRM && e < 0:
		return math.Nextafter32(r, float32(math.Inf(-1)))
	case m == rmRP && e > 0:
		return math.Nextafter32(r, float32(math.Inf(1)))
	}
	return r
}

func twoSum(a, b float64) (float64, float64) {
	s := a + b
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return s, 0
	}
	bb := s - a
	return s, (a - (s - bb)) + (b - bb)
}

func (b *blockRun) aluF32(t *thread, in *inst) error {
	r := t.regs
	ftz := in.flags&fFtz != 0
	x := f32(r[in.a])
	var y, z float32
	if in.b >= 0 {
		y = f32(r[in.b])
	}
	if in.c >= 0 {
		z = f32(r[in.c])
	}
	if ftz {
		x, y, z = ftz32(x), ftz32(y), ftz32(z)
	}
	var v float32
	switch in.op {
	case opAdd, opSub:
		if in.op == opSub {
			y = -y
		}
		if in.rnd <= rmRN {
			v = x + y
		} else {
			s, e := twoSum(float64(x), float64(y))
			v = round32(s, e, in.rnd)
		}
	case opMul:
		if in.rnd <= rmRN {
			v = x * y
		} else {
			v = toF32(float64(x)*float64(y), in.rnd)
		}
	case opMad, opFma:
		p := float64(x) * float64(y)
		s, e := twoSum(p, float64(z))
		v = round32(s, e, in.rnd)
	case opDiv:
		v = x / y
	case opMin, opMax:
		v = minMax32(x, y, in.op == opMax)
	case opNeg:
		v = -x
	case opAbs:
		v = float32(math.Abs(float64(x)))
	case opRcp:
		v = 1 / x
	case opSqrt:
		v = float32(math.Sqrt(float64(x)))
	case opRsqrt:
		v = float32(1 / math.Sqrt(float64(x)))
	case opEx2:
		v = float32(math.Exp2(float64(x)))
	case opLg2:
		v = float32(math.Log2(float64(x)))
	default:
		return b.fail(t, "instruction not supported for .f32")
	}
	if in.flags&fSat != 0 {
		v = float32(sat01(float64(v)))
	}
	if ftz {
		v = ftz32(v)
	}
	if v != v {
		r[in.d] = canonicalNaN32
		return nil
	}
	r[in.d] = b32(v)
	return nil
}

// minMax32 follows PTX: a NaN operand yields the other operand, and -0 is
// below +0.
func minMax32(x, y float32, isMax bool) float32 {
	xn, yn := x != x, y != y
	switch {
	case xn && yn:
		return float32(math.NaN())
	case xn:
		return y
	case yn:
		return x
	}
	if x == y {
		// only the zeros' signs can differ
		if math.Signbit(float64(x)) == isMax {
			return y
		}
		return x
	}
	if (x > y) == isMax {
		return x
	}
	return y
}

func (b *blockRun) aluF64(t *thread, in *inst) error {
	r := t.regs
	x := f64(r[in.a])
	var y, z float64
	if in.b >= 0 {
		y = f64(r[in.b])
	}
	if in.c >= 0 {
		z = f64(r[in.c])
	}
	var v float64
	switch in.op {
	case opAdd:
		v = x + y
	case opSub:
		v = x - y
	case opMul:
		v = x * y
	case opMad, opFma:
		v = math.FMA(x, y, z)
	case opDiv:
		v = x / y
	case opMin, opMax:
		v = minMax64(x, y, in.op == opMax)
	case opNeg:
		v = -x
	case opAbs:
		v = math.Abs(x)
	case opRcp:
		v = 1 / x
	case opSqrt:
		v = math.Sqrt(x)
	case opRsqrt:
		v = 1 / math.Sqrt(x)
	default:
		return b.fail(t, "instruction not supported for .f64")
	}
	r[in.d] = b64(v)
	return nil
}

func minMax64(x, y float64, isMax bool) float64 {
	xn, yn := math.IsNaN(x), math.IsNaN(y)
	switch {
	case xn && yn:
		return math.NaN()
	case xn:
		return y
	case yn:
		return x
	}
	if x == y {
		if math.Signbit(x) == isMax {
			return y
		}
		return x
	}
	if (x > y) == isMax {
		return x
	}
	return y
}
