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

// FromDoubleQuantParts builds a Tensor whose scales are double-quantized:
// scale[i] = qmap[q[i]]*nested[i/256] + offset, with qmap the 256-entry
// 8-bit map (bitsandbytes' dynamic map, or one read from a file). The
// slices are copied. Every part must be finite, nested scales ≥ 0, and
// every decoded scale finite and ≥ 0.
func FromDoubleQuantParts(rows, cols, blockSize int, codes []byte, q []uint8, nested []float32, offset float32, qmap []float32) (*Tensor, error) {
	if len(qmap) != 256 {
		return nil, errorf("from parts: the 8-bit map has %d values, want 256", len(qmap))
	}
	var m [256]float32
	for i, v := range qmap {
		if !finite(v) {
			return nil, errorf("from parts: 8-bit map entry %d is %v, want a finite value", i, v)
		}
		m[i] = v
	}
	for i, v := range nested {
		if !finite(v) || v < 0 {
			return nil, errorf("from parts: nested scale %d is %v, want a finite value ≥ 0", i, v)
		}
	}
	if !finite(offset) {
		return nil, errorf("from parts: offset %v is not finite", offset)
	}
	w := cpu.Weights{Rows: rows, Cols: cols, BlockSize: blockSize, Codes: codes,
		Scales: cpu.Scales{Q: q, Nested: nested, Offset: offset, Map: &m}}
	if q == nil {
		w.Scales.Q = []uint8{} // a nil Q would read as plain scales
	}
	if err := w.Check(); err != nil {
		return nil, wrap("from parts", err)
	}
	if err := checkScales(&w); err != nil {
		return nil, err
	}
	w.Codes = append([]byte(nil), codes...)
	w.Scales.Q = append([]uint8(nil), q...)
	w.Scales.Nested = append([]float32(nil), nested...)
	return &Tensor{w: w}, nil
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
