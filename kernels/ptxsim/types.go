package ptxsim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ptype is a PTX fundamental type.
type ptype uint8

const (
	tyNone ptype = iota
	tyPred
	tyB8
	tyB16
	tyB32
	tyB64
	tyU8
	tyU16
	tyU32
	tyU64
	tyS8
	tyS16
	tyS32
	tyS64
	tyF16
	tyF16x2
	tyBF16
	tyBF16x2
	tyTF32
	tyF32
	tyF64
)

var typeNames = map[string]ptype{
	".pred": tyPred, ".b8": tyB8, ".b16": tyB16, ".b32": tyB32, ".b64": tyB64,
	".u8": tyU8, ".u16": tyU16, ".u32": tyU32, ".u64": tyU64,
	".s8": tyS8, ".s16": tyS16, ".s32": tyS32, ".s64": tyS64,
	".f16": tyF16, ".f16x2": tyF16x2, ".bf16": tyBF16, ".bf16x2": tyBF16x2,
	".tf32": tyTF32, ".f32": tyF32, ".f64": tyF64,
}

func (t ptype) String() string {
	for k, v := range typeNames {
		if v == t {
			return k
		}
	}
	return ".none"
}

// size is the width in bytes.
func (t ptype) size() int {
	switch t {
	case tyPred:
		return 1
	case tyB8, tyU8, tyS8:
		return 1
	case tyB16, tyU16, tyS16, tyF16, tyBF16:
		return 2
	case tyB32, tyU32, tyS32, tyF32, tyF16x2, tyBF16x2, tyTF32:
		return 4
	case tyB64, tyU64, tyS64, tyF64:
		return 8
	}
	return 0
}

func (t ptype) bits() uint { return uint(t.size()) * 8 }

func (t ptype) isSigned() bool { return t == tyS8 || t == tyS16 || t == tyS32 || t == tyS64 }

func (t ptype) isInt() bool { return t >= tyB8 && t <= tyS64 }

func (t ptype) isFloat() bool { return t == tyF32 || t == tyF64 || t == tyF16 || t == tyBF16 }

// mask keeps the low bits of the type's width.
func (t ptype) mask() uint64 {
	if t.size() >= 8 {
		return ^uint64(0)
	}
	return 1<<t.bits() - 1
}

// ext sign- or zero-extends the low bits of v per the type.
func (t ptype) ext(v uint64) uint64 {
	switch t {
	case tyS8:
		return uint64(int64(int8(v)))
	case tyS16:
		return uint64(int64(int16(v)))
	case tyS32:
		return uint64(int64(int32(v)))
	}
	return v & t.mask()
}

func isFloatLiteral(s string) bool {
	if len(s) > 1 && s[0] == '0' && (s[1] == 'f' || s[1] == 'F' || s[1] == 'd' || s[1] == 'D') {
		return true
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return false
	}
	return strings.ContainsAny(s, ".eE")
}

// literalBits encodes a literal as the bits of a value of type t.
func literalBits(s string, neg bool, t ptype) (uint64, error) {
	if isFloatLiteral(s) {
		var f64 float64
		var f32 float32
		exact32 := false
		switch {
		case len(s) == 10 && (s[1] == 'f' || s[1] == 'F'):
			v, err := strconv.ParseUint(s[2:], 16, 32)
			if err != nil {
				return 0, fmt.Errorf("bad f32 literal %q", s)
			}
			f32 = math.Float32frombits(uint32(v))
			f64 = float64(f32)
			exact32 = true
		case len(s) == 18 && (s[1] == 'd' || s[1] == 'D'):
			v, err := strconv.ParseUint(s[2:], 16, 64)
			if err != nil {
				return 0, fmt.Errorf("bad f64 literal %q", s)
			}
			f64 = math.Float64frombits(v)
		default:
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, fmt.Errorf("bad float literal %q", s)
			}
			f64 = v
		}
		switch t {
		case tyF32:
			if exact32 {
				b := math.Float32bits(f32)
				if neg {
					b ^= 1 << 31
				}
				return uint64(b), nil
			}
			if neg {
				f64 = -f64
			}
			return uint64(math.Float32bits(float32(f64))), nil
		case tyF64:
			if neg {
				f64 = -f64
			}
			return math.Float64bits(f64), nil
		case tyF16, tyBF16:
			if neg {
				f64 = -f64
			}
			if t == tyF16 {
				return uint64(toHalf(f64, rmRN)), nil
			}
			return uint64(toBF16(f64, rmRN)), nil
		}
		if exact32 && t.size() == 4 {
			b := uint64(math.Float32bits(f32))
			if neg {
				b ^= 1 << 31
			}
			return b, nil
		}
		if t.size() == 8 && !exact32 && (s[1] == 'd' || s[1] == 'D') {
			b := math.Float64bits(f64)
			if neg {
				b ^= 1 << 63
			}
			return b, nil
		}
		return 0, fmt.Errorf("float literal %q for an integer type %v", s, t)
	}
	v, err := parseInt(s)
	if err != nil {
		return 0, fmt.Errorf("bad integer literal %q", s)
	}
	if neg {
		v = -v
	}
	switch t {
	case tyF32:
		return uint64(math.Float32bits(float32(v))), nil
	case tyF64:
		return math.Float64bits(float64(v)), nil
	case tyPred:
		if v != 0 {
			return 1, nil
		}
		return 0, nil
	}
	return t.ext(uint64(v)), nil
}
