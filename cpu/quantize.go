package cpu

import (
	"fmt"
	"math"
)

// NonFiniteError reports a NaN or Inf in a weight, where it was found.
type NonFiniteError struct {
	Row, Block, Col int
	Value           float64
	// Flat is set when blocks run over the flattened tensor rather than
	// within rows (K not a multiple of the block size): Block then counts
	// blocks of the whole tensor.
	Flat bool
}

func (e *NonFiniteError) Error() string {
	where := "that row"
	if e.Flat {
		where = "the flattened tensor"
	}
	return fmt.Sprintf("non-finite weight %v at row %d, column %d (block %d of %s)", e.Value, e.Row, e.Col, e.Block, where)
}

// Quantize fills codes and absmax from the row-major float32 matrix src
// (rows×cols values) with the NF4 table; see QuantType.Quantize.
func Quantize(codes []byte, absmax []float32, src []float32, rows, cols, blockSize int) error {
	return NF4.Quantize(codes, absmax, src, rows, cols, blockSize)
}

// Quantize64 is Quantize for a float64 source; values are rounded to float32
// first, so it gives the same codes as Quantize on the rounded matrix.
func Quantize64(codes []byte, absmax []float32, src []float64, rows, cols, blockSize int) error {
	return NF4.Quantize64(codes, absmax, src, rows, cols, blockSize)
}

// Quantize fills codes ((n+1)/2 bytes for n = rows·cols values, element 2i
// in the low nibble) and absmax (one per block) from the row-major float32
// matrix src, exactly as bitsandbytes' CPU reference (its pure-torch
// quantize_4bit) does. Blocks of blockSize consecutive values run over the
// flattened matrix, so a block spans rows when cols is not a multiple of
// blockSize, and the last block may be partial. For a full block:
//
//	absmax = max|x|, r = 1/max(absmax, 1e-38), code = Code(x·r)
//
// in float32, storing absmax itself (0 for an all-zero block, whose codes
// are all the zero code). The partial last block divides instead,
// code = Code(x / max(absmax, 1e-38)), and stores the clamped absmax. An
// odd count pads the last byte with the zero code. A NaN or Inf is an
// error naming its row, column and block.
func (q QuantType) Quantize(codes []byte, absmax []float32, src []float32, rows, cols, blockSize int) error {
	return quantize(q, codes, absmax, src, rows, cols, blockSize)
}

// Quantize64 is Quantize for a float64 source, rounded to float32 first.
func (q QuantType) Quantize64(codes []byte, absmax []float32, src []float64, rows, cols, blockSize int) error {
	return quantize(q, codes, absmax, src, rows, cols, blockSize)
}

func quantize[T float32 | float64](q QuantType, codes []byte, absmax []float32, src []T, rows, cols, blockSize int) error {
	if !q.Valid() {
		return fmt.Errorf("quantize: %v is not a code table", q)
	}
	if err := CheckLayout(rows, cols, blockSize); err != nil {
		return err
	}
	n := rows * cols
	blocks := (n + blockSize - 1) / blockSize
	switch {
	case len(src) != n:
		return fmt.Errorf("source has %d values, want %d for shape [%d %d]", len(src), n, rows, cols)
	case len(codes) != (n+1)/2:
		return fmt.Errorf("codes: have %d bytes, want %d", len(codes), (n+1)/2)
	case len(absmax) != blocks:
		return fmt.Errorf("absmax: have %d, want one per block (%d)", len(absmax), blocks)
	}
	t := q.table()
	B := blockSize
	full := n / B
	bad := func(i int) error {
		e := &NonFiniteError{Row: i / cols, Col: i % cols, Value: float64(src[i])}
		if cols%B == 0 {
			e.Block = e.Col / B
		} else {
			e.Block, e.Flat = i/B, true
		}
		return e
	}
	// Chunks of whole blocks, at least 64 Ki values each, in parallel; the
	// first error in a chunk stops that chunk.
	grain := 1 + (1<<16)/B
	chunks := (full + grain - 1) / grain
	errs := make([]error, chunks)
	k := active
	parallelFor(chunks, 1, func(lo, hi int) {
		var buf []float32
		for c := lo; c < hi; c++ {
			b0, b1 := c*grain, min((c+1)*grain, full)
			vals, ok := any(src[b0*B : b1*B]).([]float32)
			if !ok {
				if buf == nil {
					buf = make([]float32, grain*B)
				}
				vals = buf[:(b1-b0)*B]
				for i, x := range src[b0*B : b1*B] {
					vals[i] = float32(x)
				}
			}
			if k != nil {
				if j := k.quantize(&codes[b0*B/2], &absmax[b0], &vals[0], b1-b0, B, t); j >= 0 {
					_, at := blockAbsmax(vals[j*B : (j+1)*B])
					errs[c] = bad((b0+j)*B + at)
				}
				continue
			}
			for b := b0; b < b1; b++ {
				x := vals[(b-b0)*B : (b-b0+1)*B]
				amax, at := blockAbsmax(x)
				if at >= 0 {
					errs[c] = bad(b*B + at)
					break
				}
				absmax[b] = amax
				t.encode(codes[b*B/2:(b+1)*B/2], x, 1/max(amax, MinScale))
			}
		}
	})
	if err := firstError(errs); err != nil {
		return err
	}
	if full == blocks {
		return nil
	}
	// The partial last block, as bitsandbytes treats it: a true division
	// by the clamped absmax, which is also what it stores.
	x := make([]float32, n-full*B)
	for i, v := range src[full*B:] {
		x[i] = float32(v)
	}
	amax, at := blockAbsmax(x)
	if at >= 0 {
		return bad(full*B + at)
	}
	d := max(amax, MinScale)
	absmax[full] = d
	dst := codes[full*B/2:]
	for i := range dst {
		lo := t.code(x[2*i] / d)
		hi := t.zero
		if 2*i+1 < len(x) {
			hi = t.code(x[2*i+1] / d)
		}
		dst[i] = lo | hi<<4
	}
	return nil
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
// NaN or Inf. It compares the values' magnitudes as integers, which order
// non-negative floats as floats do, so four running maxima cost one
// compare and move each and a NaN or Inf (above MaxFloat32's bits) shows
// in the result.
func blockAbsmax(x []float32) (float32, int) {
	const magnitude = 1<<31 - 1
	var m0, m1, m2, m3 uint32
	v := x
	for len(v) >= 4 {
		w := v[:4]
		m0 = max(m0, math.Float32bits(w[0])&magnitude)
		m1 = max(m1, math.Float32bits(w[1])&magnitude)
		m2 = max(m2, math.Float32bits(w[2])&magnitude)
		m3 = max(m3, math.Float32bits(w[3])&magnitude)
		v = v[4:]
	}
	for _, f := range v {
		m0 = max(m0, math.Float32bits(f)&magnitude)
	}
	finite := math.Float32bits(math.MaxFloat32)
	if m := max(m0, m1, m2, m3); m <= finite {
		return math.Float32frombits(m), -1
	}
	i := 0 // some value is above MaxFloat32: find the first
	for i < len(x)-1 && math.Float32bits(x[i])&magnitude <= finite {
		i++
	}
	return 0, i
}

// encode writes the codes of the values x (an even count) scaled by r.
// It spells out code for both values of a byte: code is over Go's
// inlining budget, and a call per value costs more than the search.
func (t *codeTable) encode(dst []byte, x []float32, r float32) {
	keys, order := &t.keys, &t.order
	x = x[:2*len(dst)]
	for i := range dst {
		lo := rank(keys, orderKey(x[2*i]*r))
		hi := rank(keys, orderKey(x[2*i+1]*r))
		dst[i] = order[lo] | order[hi]<<4
	}
}
