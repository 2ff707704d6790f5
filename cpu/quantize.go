package cpu

import (
	"fmt"
	"math"
)

// NonFiniteError reports a NaN or Inf in a weight, where it was found.
type NonFiniteError struct {
	Row, Block, Col int
	Value           float64
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("non-finite weight %v at row %d, column %d (block %d of that row)", e.Value, e.Row, e.Col, e.Block)
}

// Quantize fills codes (rows*cols/2 bytes) and absmax (one per block) from
// the row-major float32 matrix src. Each value becomes the nearest code of
// x/absmax(block), ties to the lower code; an all-zero block gets absmax 0
// and the zero code. A NaN or Inf is an error naming its row and block.
func Quantize(codes []byte, absmax []float32, src []float32, rows, cols, blockSize int) error {
	return quantize(codes, absmax, src, rows, cols, blockSize)
}

// Quantize64 is Quantize for a float64 source; values are rounded to float32
// first, so it gives the same codes as Quantize on the rounded matrix.
func Quantize64(codes []byte, absmax []float32, src []float64, rows, cols, blockSize int) error {
	return quantize(codes, absmax, src, rows, cols, blockSize)
}

func quantize[T float32 | float64](codes []byte, absmax []float32, src []T, rows, cols, blockSize int) error {
	if err := CheckShape(rows, cols, blockSize); err != nil {
		return err
	}
	n := rows * cols
	switch {
	case len(src) != n:
		return fmt.Errorf("source has %d values, want %d for shape [%d %d]", len(src), n, rows, cols)
	case len(codes) != n/2:
		return fmt.Errorf("codes: have %d bytes, want %d", len(codes), n/2)
	case len(absmax) != n/blockSize:
		return fmt.Errorf("absmax: have %d, want one per block (%d)", len(absmax), n/blockSize)
	}
	perRow := cols / blockSize
	errs := make([]error, rows)
	if k := active; k != nil {
		parallelFor(rows, 1+(1<<16)/cols, func(lo, hi int) {
			var buf []float32
			for r := lo; r < hi; r++ {
				row, ok := any(src[r*cols : (r+1)*cols]).([]float32)
				if !ok {
					if buf == nil {
						buf = make([]float32, cols)
					}
					for i, x := range src[r*cols : (r+1)*cols] {
						buf[i] = float32(x)
					}
					row = buf
				}
				j := k.quantize(&codes[r*cols/2], &absmax[r*perRow], &row[0], perRow, blockSize, &quantConsts)
				if j >= 0 {
					_, bad := blockAbsmax(row[j*blockSize : (j+1)*blockSize])
					errs[r] = &NonFiniteError{Row: r, Block: j, Col: j*blockSize + bad, Value: float64(src[r*cols+j*blockSize+bad])}
					return
				}
			}
		})
		return firstError(errs)
	}
	parallelFor(rows, 1+(1<<16)/cols, func(lo, hi int) {
		buf := make([]float32, blockSize)
		for r := lo; r < hi; r++ {
			for j := range perRow {
				b := r*perRow + j
				off := b * blockSize
				for i, x := range src[off : off+blockSize] {
					buf[i] = float32(x)
				}
				amax, bad := blockAbsmax(buf)
				if bad >= 0 {
					errs[r] = &NonFiniteError{Row: r, Block: j, Col: j*blockSize + bad, Value: float64(src[off+bad])}
					return
				}
				absmax[b] = amax
				encodeBlock(codes[off/2:(off+blockSize)/2], buf, amax)
			}
		}
	})
	return firstError(errs)
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// blockAbsmax returns max|x| over the block, or the index of the first
// NaN or Inf.
func blockAbsmax(x []float32) (float32, int) {
	var amax float32
	for i, v := range x {
		a := abs32(v)
		if a > math.MaxFloat32 || v != v {
			return 0, i
		}
		amax = max(amax, a)
	}
	return amax, -1
}

func encodeBlock(dst []byte, x []float32, amax float32) {
	if amax == 0 {
		for i := range dst {
			dst[i] = ZeroCode | ZeroCode<<4
		}
		return
	}
	for i := range dst {
		lo := NearestCode(x[2*i] / amax)
		hi := NearestCode(x[2*i+1] / amax)
		dst[i] = lo | hi<<4
	}
}
