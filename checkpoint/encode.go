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
	if i := firstNonFinite(f); i >= 0 {
		return nil, tensorErr(file, name, "value %v at row %d, column %d is not finite", f[i], i/cols, i%cols)
	}
	b := EncodeFloats(make([]byte, 0, len(f)*dt.Size()), f, dt)
	if allowOverflow {
		return b, nil
	}
	for i, size := 0, dt.Size(); i < len(f); i++ {
		if encodedInf(b[i*size:], dt) {
			return nil, tensorErr(file, name, "value %v at row %d, column %d is beyond the range of %s (largest %s) and would be written as ±Inf; write a wider dtype, or allow the overflow",
				f[i], i/cols, i%cols, dt, largest(dt))
		}
	}
	return b, nil
}

// encodedInf reports whether the little-endian element e of dtype dt is ±Inf.
func encodedInf(e []byte, dt DType) bool {
	switch dt {
	case F16:
		return e[1]&0x7c == 0x7c
	case BF16:
		return e[1]&0x7f == 0x7f && e[0]&0x80 == 0x80
	case F32:
		return e[3]&0x7f == 0x7f && e[2]&0x80 == 0x80
	}
	return false
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
