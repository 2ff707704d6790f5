package checkpoint

import (
	"math"

	"github.com/x448/float16"
)

// BF16FromFloat32 rounds f to bfloat16, to nearest with ties to even.
// NaN stays NaN (made quiet, sign kept); values past the largest bfloat16
// round to ±Inf as IEEE rounding does.
func BF16FromFloat32(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x0040
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// BF16ToFloat32 widens a bfloat16 exactly.
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F16FromFloat32 rounds f to IEEE half precision, to nearest with ties to
// even, subnormals included; NaN stays NaN.
func F16FromFloat32(f float32) uint16 { return float16.Fromfloat32(f).Bits() }

// F16ToFloat32 widens a half-precision value exactly.
func F16ToFloat32(h uint16) float32 { return float16.Frombits(h).Float32() }
