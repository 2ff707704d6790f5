package cpu

import "math"

// toBF16 rounds f to bfloat16 (the top half of a float32) as
// VCVTNE2PS2BF16 does: to nearest, ties to even, denormals to a signed
// zero, NaNs kept quiet.
func toBF16(f float32) uint16 {
	b := math.Float32bits(f)
	switch {
	case b&0x7fffffff > 0x7f800000: // NaN
		return uint16(b>>16) | 0x40
	case b&0x7f800000 == 0: // zero or denormal
		return uint16(b>>16) & 0x8000
	}
	return uint16((b + 0x7fff + (b >> 16 & 1)) >> 16)
}

// fromBF16 widens a bfloat16 to the float32 it stands for.
func fromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// roundBF16 is f rounded to bfloat16, as a float32.
func roundBF16(f float32) float32 { return fromBF16(toBF16(f)) }

// decodeDotBF16 returns Σ bf16(code(c)·s)·bf16(x) over one block, each
// product exact in float32 and summed in float32: the arithmetic of the
// bf16 kernels, in one sum.
func decodeDotBF16(codes []byte, x []float32, s float32, values *[16]float32) float32 {
	var sum float32
	x = x[:2*len(codes)]
	for i, c := range codes {
		lo := roundBF16(values[c&15]*s) * roundBF16(x[2*i])
		hi := roundBF16(values[c>>4]*s) * roundBF16(x[2*i+1])
		sum += lo
		sum += hi
	}
	return sum
}

// linearBF16Go is LinearBF16's arithmetic in plain Go, block by block:
// the reference the bf16 kernels are checked against.
func linearBF16Go(out, x []float32, m int, w *Weights) error {
	if err := checkOperands(w, m, len(x), len(out), w.Cols, w.Rows); err != nil {
		return err
	}
	N, K, B := w.Rows, w.Cols, w.BlockSize
	values := &w.table().values
	parallelFor(N, 16, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			for i := range m {
				var acc float32
				for j := range K / B {
					b := n*(K/B) + j
					acc += decodeDotBF16(w.Codes[b*B/2:(b+1)*B/2], x[i*K+j*B:i*K+(j+1)*B], w.Scales.At(b), values)
				}
				out[i*N+n] = acc
			}
		}
	})
	return nil
}
