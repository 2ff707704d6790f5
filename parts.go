package nf4

import (
	"fmt"
	"math"
	"slices"

	"github.com/nf4go/nf4/cpu"
)

// Parts are the stored pieces of a 4-bit tensor, as a bitsandbytes file
// holds them (with the codes in nf4's nibble order).
type Parts struct {
	Shape     []int     // one or more dimensions; blocks run over the flattened values
	BlockSize int       // values per scale
	QuantType QuantType // NF4 (the zero value) or FP4
	Codes     []byte    // (n+1)/2 bytes for n values, element 2i in the low nibble

	// Plain scales: one absmax per block (the last block may be partial).
	Absmax []float32

	// Double-quantized scales, used when Q is not nil:
	// scale[i] = Map[Q[i]]·Nested[i/256] + Offset, in float32.
	Q      []uint8
	Nested []float32
	Offset float32
	Map    []float32 // 256 entries
}

// Assemble builds a Tensor from its parts, copying the slices. Every part
// must agree with the shape and block size, and every part and decoded
// scale must be finite; a negative scale is kept and decodes as
// bitsandbytes decodes it (code value times scale). Errors name the part,
// and for a scale its block.
func Assemble(p Parts) (*Tensor, error) {
	if !p.QuantType.Valid() {
		return nil, errorf("from parts: %v not supported: want NF4 or FP4", p.QuantType)
	}
	rows, cols, err := flatten(p.Shape)
	if err != nil {
		return nil, wrap("from parts", err)
	}
	w := cpu.Weights{Rows: rows, Cols: cols, BlockSize: p.BlockSize, Type: p.QuantType, Codes: slices.Clone(p.Codes)}
	if p.Q == nil {
		w.Scales.Absmax = slices.Clone(p.Absmax)
		if w.Scales.Absmax == nil {
			w.Scales.Absmax = []float32{}
		}
	} else {
		if len(p.Map) != 256 {
			return nil, errorf("from parts: the 8-bit map has %d values, want 256", len(p.Map))
		}
		var m [256]float32
		for i, v := range p.Map {
			if !finite(v) {
				return nil, errorf("from parts: 8-bit map entry %d is %v, want a finite value", i, v)
			}
			m[i] = v
		}
		for i, v := range p.Nested {
			if !finite(v) {
				return nil, errorf("from parts: nested scale %d is %v, want a finite value", i, v)
			}
		}
		if !finite(p.Offset) {
			return nil, errorf("from parts: offset %v is not finite", p.Offset)
		}
		w.Scales = cpu.Scales{Q: slices.Clone(p.Q), Nested: slices.Clone(p.Nested), Offset: p.Offset, Map: &m}
	}
	if w.Codes == nil {
		w.Codes = []byte{}
	}
	if err := w.Check(); err != nil {
		return nil, wrap("from parts", err)
	}
	if err := checkScales(&w); err != nil {
		return nil, err
	}
	return &Tensor{w: w, shape: slices.Clone(p.Shape)}, nil
}

// Parts returns the tensor's pieces (none for a nil tensor). The slices
// are the tensor's own storage: do not modify them.
func (t *Tensor) Parts() Parts {
	if t == nil {
		return Parts{}
	}
	s := t.w.Scales
	p := Parts{Shape: slices.Clone(t.shape), BlockSize: t.w.BlockSize, QuantType: t.w.Type, Codes: t.w.Codes}
	if s.Double() {
		p.Q, p.Nested, p.Offset, p.Map = s.Q, s.Nested, s.Offset, s.Map[:]
	} else {
		p.Absmax = s.Absmax
	}
	return p
}

// FromParts builds an NF4 Tensor [rows cols] from its canonical parts:
// (rows*cols+1)/2 code bytes (element 2i in the low nibble) and one absmax
// per block. The slices are copied. Scales must be finite; a negative one
// decodes as bitsandbytes decodes it (code value times scale).
func FromParts(rows, cols, blockSize int, codes []byte, absmax []float32) (*Tensor, error) {
	return Assemble(Parts{Shape: []int{rows, cols}, BlockSize: blockSize, Codes: codes, Absmax: absmax})
}

// FromDoubleQuantParts builds an NF4 Tensor [rows cols] whose scales are
// double-quantized: scale[i] = qmap[q[i]]*nested[i/256] + offset, with qmap
// the 256-entry 8-bit map (bitsandbytes' dynamic map, or one read from a
// file). The slices are copied. Every part and every decoded scale must be
// finite; decoded scales may be negative (see FromParts).
func FromDoubleQuantParts(rows, cols, blockSize int, codes []byte, q []uint8, nested []float32, offset float32, qmap []float32) (*Tensor, error) {
	if q == nil {
		q = []uint8{} // a nil Q would read as plain scales
	}
	return Assemble(Parts{Shape: []int{rows, cols}, BlockSize: blockSize, Codes: codes, Q: q, Nested: nested, Offset: offset, Map: qmap})
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

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
