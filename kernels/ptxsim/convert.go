package ptxsim

import "math"

// rmode is a rounding mode. The integer variants (.rni …) round a float to an
// integral value; the others round to the destination precision.
type rmode uint8

const (
	rmNone rmode = iota
	rmRN         // nearest, ties to even
	rmRZ         // toward zero
	rmRM         // toward -inf
	rmRP         // toward +inf
	rmRNA        // nearest, ties away from zero
	rmRNI
	rmRZI
	rmRMI
	rmRPI
)

var roundNames = map[string]rmode{
	".rn": rmRN, ".rz": rmRZ, ".rm": rmRM, ".rp": rmRP, ".rna": rmRNA,
	".rni": rmRNI, ".rzi": rmRZI, ".rmi": rmRMI, ".rpi": rmRPI,
}

// roundBits rounds x to a binary format with mbits stored mantissa bits and
// ebits exponent bits (IEEE layout, subnormals included) and returns its
// bits. Working in float64 is exact: every step below scales by powers of two
// or splits off an integer part.
func roundBits(x float64, mbits, ebits uint, mode rmode) uint64 {
	var sign uint64
	if math.Signbit(x) {
		sign = 1 << (mbits + ebits)
	}
	expAll := uint64(1)<<ebits - 1
	inf := sign | expAll<<mbits
	if math.IsNaN(x) {
		return inf | 1<<(mbits-1) // quiet NaN, sign kept
	}
	if math.IsInf(x, 0) {
		return inf
	}
	ax := math.Abs(x)
	if ax == 0 {
		return sign
	}
	bias := int(1)<<(ebits-1) - 1
	maxFinite := sign | (expAll-1)<<mbits | (uint64(1)<<mbits - 1)
	overflow := func() uint64 {
		neg := sign != 0
		switch {
		case mode == rmRZ, mode == rmRM && !neg, mode == rmRP && neg:
			return maxFinite
		}
		return inf
	}
	_, e := math.Frexp(ax)
	E := e - 1 // ax in [2^E, 2^(E+1))
	if E > bias {
		return overflow()
	}
	minE := 1 - bias
	q := E
	if q < minE {
		q = minE
	}
	q -= int(mbits)
	scaled := math.Ldexp(ax, -q)
	n := math.Floor(scaled)
	rem := scaled - n
	neg := sign != 0
	switch mode {
	case rmRN:
		if rem > 0.5 || (rem == 0.5 && math.Mod(n, 2) == 1) {
			n++
		}
	case rmRNA:
		if rem >= 0.5 {
			n++
		}
	case rmRM:
		if neg && rem > 0 {
			n++
		}
	case rmRP:
		if !neg && rem > 0 {
			n++
		}
	}
	bits := uint64(q+int(mbits)+bias-1)<<mbits + uint64(n)
	if bits >= expAll<<mbits {
		return overflow()
	}
	return sign | bits
}

func toHalf(x float64, m rmode) uint16 { return uint16(roundBits(x, 10, 5, m)) }
func toBF16(x float64, m rmode) uint16 { return uint16(roundBits(x, 7, 8, m)) }

// toTF32 returns an f32 bit pattern holding x rounded to 10 mantissa bits.
func toTF32(x float64, m rmode) uint32 { return uint32(roundBits(x, 10, 8, m)) << 13 }

// toF32 rounds a float64 to float32 in any mode.
func toF32(x float64, m rmode) float32 {
	if m == rmRN || m == rmNone {
		return float32(x)
	}
	return math.Float32frombits(uint32(roundBits(x, 23, 8, m)))
}

func halfToF64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return sign * math.Ldexp(m, -24)
	case 31:
		if m != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1024+m, e-25)
}

func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// ftz32 flushes an f32 subnormal to a zero of the same sign.
func ftz32(f float32) float32 {
	if b := math.Float32bits(f); b&0x7f800000 == 0 {
		return math.Float32frombits(b & 0x80000000)
	}
	return f
}

func sat01(f float64) float64 {
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	if f > 1 {
		return 1
	}
	return f
}

// roundInt rounds to an integral value in one of the .r?i modes.
func roundInt(f float64, m rmode) float64 {
	switch m {
	case rmRNI:
		return math.RoundToEven(f)
	case rmRZI:
		return math.Trunc(f)
	case rmRMI:
		return math.Floor(f)
	case rmRPI:
		return math.Ceil(f)
	}
	return f
}

// floatToInt converts with the PTX rules: round per mode, saturate to the
// destination range, NaN becomes 0.
func floatToInt(f float64, m rmode, t ptype) uint64 {
	if math.IsNaN(f) {
		return 0
	}
	f = roundInt(f, m)
	bits := t.bits()
	if t.isSigned() {
		lo := -math.Ldexp(1, int(bits)-1)
		hi := math.Ldexp(1, int(bits)-1)
		if f <= lo {
			return t.ext(uint64(1) << (bits - 1))
		}
		if f >= hi {
			return t.ext(uint64(1)<<(bits-1) - 1)
		}
		return t.ext(uint64(int64(f)))
	}
	if f <= 0 {
		return 0
	}
	if f >= math.Ldexp(1, int(bits)) {
		return t.mask()
	}
	if bits == 64 && f >= math.Ldexp(1, 63) {
		return uint64(f-math.Ldexp(1, 63)) + 1<<63
	}
	return uint64(f)
}
