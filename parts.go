package nf4

import (
	"fmt"
	"math"

	"github.com/nf4go/nf4/cpu"
)

// FromParts builds a Tensor from its canonical parts: rows*cols/2 code bytes
// (element 2i in the low nibble) and one absmax per block. The slices are
// copied. Scales must be finite; a negative one decodes as bitsandbytes
// decodes it (code value times scale).
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

// checkScales rejects a decoded scale that is NaN or Inf, naming the row
// and block it belongs to. Negative scales are kept: double quantization
// decodes a near-zero absmax to a small negative value beside large ones,
// bitsandbytes writes and reads such files, and so must nf4.
func checkScales(w *cpu.Weights) error {
	for b := range w.Scales.Len() {
		if s := w.Scales.At(b); !finite(s) {
			return errorf("scale %v of %s: want a finite value", s, blockPlace(w, b))
		}
	}
	return nil
}

// blockPlace names block b: its row and index in the row, or its index in
// the flattened tensor when blocks span rows.
func blockPlace(w *cpu.Weights, b int) string {
	if w.RowAligned() {
		perRow := w.Cols / w.BlockSize
		return fmt.Sprintf("row %d, block %d", b/perRow, b%perRow)
	}
	return fmt.Sprintf("block %d (row %d, column %d)", b, b*w.BlockSize/w.Cols, b*w.BlockSize%w.Cols)
}

// FromDoubleQuantParts builds a Tensor whose scales are double-quantized:
// scale[i] = qmap[q[i]]*nested[i/256] + offset, with qmap the 256-entry
// 8-bit map (bitsandbytes' dynamic map, or one read from a file). The
// slices are copied. Every part and every decoded scale must be finite;
// decoded scales may be negative (see FromParts).
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
		if !finite(v) {
			return nil, errorf("from parts: nested scale %d is %v, want a finite value", i, v)
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
