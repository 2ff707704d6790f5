package nf4

import (
	"math"

	"github.com/nf4go/nf4/cpu"
)

// FromParts builds a Tensor from its canonical parts: rows*cols/2 code bytes
// (element 2i in the low nibble) and one absmax per block. The slices are
// copied. Scales must be finite and not negative.
func FromParts(rows, cols, blockSize int, codes []byte, absmax []float32) (*Tensor, error) {
	w := cpu.Weights{Rows: rows, Cols: cols, BlockSize: blockSize,
		Codes: codes, Scales: cpu.Scales{Absmax: absmax}}
	if err := w.Check(); err != nil {
		return nil, wrap("from parts", err)
	}
	if err := checkScales(&w); err != nil {
		return nil, err
	}
	w.Codes = append([]byte(nil), codes...)
	w.Scales.Absmax = append([]float32(nil), absmax...)
	return &Tensor{w: w}, nil
}

// checkScales rejects a decoded scale that is NaN, Inf or negative, naming
// the row and block it belongs to.
func checkScales(w *cpu.Weights) error {
	perRow := w.Cols / w.BlockSize
	for b := range w.Scales.Len() {
		s := w.Scales.At(b)
		if s < 0 || math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			return errorf("scale %v of row %d, block %d: want a finite absmax ≥ 0", s, b/perRow, b%perRow)
		}
	}
	return nil
}
