package checkpoint

import (
	"fmt"
	"math"
)

// encodeWeight encodes the row-major float weight f [rows, cols] as dt for
// the tensor name of file, refusing what a reader would refuse: a value
// that is not finite, or a finite one beyond dt's range, which would be
// written as ±Inf (as PyTorch's conversion writes it) unless
// allowOverflow. Errors name the first bad row and column.
func encodeWeight(file, name string, f []float32, cols int, dt DType, allowOverflow bool) ([]byte, error) {
	// In float32 bits without the sign: at or above inf is NaN or Inf; at
	// or above limit rounds to ±Inf in dt (F16 from 65520, halfway past
	// its largest 65504, ties going to the even Inf; BF16 likewise).
	const inf = 0x7f800000
	limit := uint32(inf)
	switch dt {
	case F16:
		limit = 0x477ff000 // 65520
	case BF16:
		limit = 0x7f7f8000
	}
	if allowOverflow {
		limit = inf
	}
	for i, v := range f {
		if u := math.Float32bits(v) &^ (1 << 31); u >= limit {
			if u >= inf {
				return nil, tensorErr(file, name, "value %v at row %d, column %d is not finite", v, i/cols, i%cols)
			}
			return nil, tensorErr(file, name, "value %v at row %d, column %d is beyond the range of %s (largest %s) and would be written as ±Inf; write a wider dtype, or allow the overflow",
				v, i/cols, i%cols, dt, largest(dt))
		}
	}
	return EncodeFloats(make([]byte, 0, len(f)*dt.Size()), f, dt), nil
}

func largest(dt DType) string {
	switch dt {
	case F16:
		return "65504"
	case BF16:
		return "3.39e38"
	}
	return fmt.Sprint(math.MaxFloat32)
}

// firstNonFinite returns the index of the first NaN or Inf in v, or -1.
func firstNonFinite(v []float32) int {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}
