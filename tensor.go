package nf4

import (
	"fmt"
	"math"
	"slices"

	"github.com/nf4go/nf4/cpu"
	"gorgonia.org/tensor"
)

// Tensor is a 4-bit weight: packed codes and one scale per block of
// BlockSize consecutive values. Usually it is W[N, K] with blocks along K,
// the layout the products need; one read from a bitsandbytes file may
// have any shape, its blocks running over the flattened values (spanning
// rows, the last one partial), and then it can be dequantized but not
// multiplied. A Tensor is immutable once made, so it can be shared freely
// between graphs and goroutines.
type Tensor struct {
	w     cpu.Weights
	shape []int // Rows×Cols is this shape flattened to [all but the last, last]
}

// QuantType names a 4-bit code table: NF4 (the default) or FP4, the two
// bitsandbytes writes (its quant_type).
type QuantType = cpu.QuantType

// The code tables.
const (
	NF4 = cpu.NF4 // QLoRA's NormalFloat: Codebook
	FP4 = cpu.FP4 // bitsandbytes' 4-bit float (1 sign, 2 exponent, 1 mantissa bit), scaled to [-1, 1]
)

// Option configures quantization.
type Option func(*options)

type options struct {
	blockSize int
	double    bool
	quant     QuantType
}

// WithBlockSize sets how many consecutive values of a row share one scale
// (default 64; powers of two from 32 to 4096).
func WithBlockSize(b int) Option { return func(o *options) { o.blockSize = b } }

// WithQuantType picks the code table: NF4 (the default) or FP4.
func WithQuantType(q QuantType) Option { return func(o *options) { o.quant = q } }

// WithDoubleQuant compresses the scales too (QLoRA's double quantization):
// 8-bit codes of absmax minus its mean, in nested blocks of 256, for 4.127
// bits per weight instead of 4.5 at block size 64, exactly as bitsandbytes'
// CPU install writes them. A weight that is itself an exact dequantization
// of a 4-bit one is re-encoded so that quantize → dequantize → quantize
// gives the same bytes from the second round on (see
// cpu.QuantType.DoubleQuantizeFrom).
func WithDoubleQuant() Option { return func(o *options) { o.double = true } }

func collect(opts []Option) options {
	o := options{blockSize: DefaultBlockSize}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// Quantize converts a 2-D float32 or float64 tensor [N K] to 4-bit codes.
func Quantize(t *tensor.Dense, opts ...Option) (*Tensor, error) {
	if t == nil {
		return nil, ErrNil
	}
	if t.Dims() != 2 {
		return nil, errorf("quantize: want a 2-D weight [N K], have shape %v", t.Shape())
	}
	if t.IsMaterializable() {
		t = t.Materialize().(*tensor.Dense)
	}
	shape := []int{t.Shape()[0], t.Shape()[1]}
	switch data := t.Data().(type) {
	case []float32:
		return quantize(data, nil, shape, true, collect(opts))
	case []float64:
		t, err := quantize(nil, data, shape, true, collect(opts))
		return t, float32Range(err)
	}
	return nil, errorf("quantize: dtype %v not supported: want float32 or float64", t.Dtype())
}

// QuantizeFloat32s converts the row-major matrix data[rows*cols] to 4-bit
// codes. cols must be a multiple of the block size, as the products need.
func QuantizeFloat32s(data []float32, rows, cols int, opts ...Option) (*Tensor, error) {
	return quantize(data, nil, []int{rows, cols}, true, collect(opts))
}

// QuantizeFloat64s converts the row-major matrix data[rows*cols] to 4-bit
// codes; values are rounded to float32 first.
func QuantizeFloat64s(data []float64, rows, cols int, opts ...Option) (*Tensor, error) {
	t, err := quantize(nil, data, []int{rows, cols}, true, collect(opts))
	return t, float32Range(err)
}

// QuantizeFlat quantizes data of any shape (one or more dimensions) as
// bitsandbytes does: blocks of the block size run over the flattened
// values, so they may span rows and the last may be partial. Such a
// tensor dequantizes exactly and stores in the bitsandbytes layout; the
// products need a 2-D one whose rows hold whole blocks.
func QuantizeFlat(data []float32, shape []int, opts ...Option) (*Tensor, error) {
	return quantize(data, nil, shape, false, collect(opts))
}

// flatten returns the [rows, cols] view of a shape: the last dimension and
// the product of the others.
func flatten(shape []int) (rows, cols int, err error) {
	if len(shape) == 0 {
		return 0, 0, fmt.Errorf("shape %v: want at least one dimension", shape)
	}
	rows, cols = 1, shape[len(shape)-1]
	for _, d := range shape[:len(shape)-1] {
		if d <= 0 || rows > math.MaxInt32/d {
			return 0, 0, fmt.Errorf("shape %v: dimensions must be positive and their product at most %d", shape, math.MaxInt32)
		}
		rows *= d
	}
	if cols <= 0 {
		return 0, 0, fmt.Errorf("shape %v: dimensions must be positive", shape)
	}
	return rows, cols, nil
}

func quantize(f32 []float32, f64 []float64, shape []int, aligned bool, o options) (*Tensor, error) {
	if !o.quant.Valid() {
		return nil, errorf("quantize: %v not supported: want NF4 or FP4", o.quant)
	}
	rows, cols, err := flatten(shape)
	if err != nil {
		return nil, wrap("quantize", err)
	}
	check := cpu.CheckLayout
	if aligned {
		check = cpu.CheckShape
	}
	if err := check(rows, cols, o.blockSize); err != nil {
		return nil, wrap("quantize", err)
	}
	n := rows * cols
	if f32 == nil && f64 == nil || f32 != nil && len(f32) != n || f64 != nil && len(f64) != n {
		return nil, errorf("quantize: have %d values, want %d for shape %v", max(len(f32), len(f64)), n, shape)
	}
	w := cpu.Weights{Rows: rows, Cols: cols, BlockSize: o.blockSize, Type: o.quant, Codes: make([]byte, (n+1)/2)}
	absmax := make([]float32, (n+o.blockSize-1)/o.blockSize)
	if f32 != nil {
		err = o.quant.Quantize(w.Codes, absmax, f32, rows, cols, o.blockSize)
	} else {
		err = o.quant.Quantize64(w.Codes, absmax, f64, rows, cols, o.blockSize)
	}
	if err != nil {
		return nil, wrap("quantize", err)
	}
	w.Scales = cpu.Scales{Absmax: absmax}
	if o.double {
		if f32 != nil {
			w.Scales, err = o.quant.DoubleQuantizeFrom(w.Codes, absmax, f32, o.blockSize)
		} else {
			w.Scales, err = o.quant.DoubleQuantizeFrom64(w.Codes, absmax, f64, o.blockSize)
		}
		if err != nil {
			return nil, wrap("quantize", err)
		}
	}
	return &Tensor{w: w, shape: slices.Clone(shape)}, nil
}

// A nil *Tensor reads as an empty one: its accessors return zeros and nil
// slices instead of panicking, and its operations return ErrNil.
var empty cpu.Weights

// weights returns t's weights, or empty ones for a nil t.
func (t *Tensor) weights() *cpu.Weights {
	if t == nil {
		return &empty
	}
	return &t.w
}

// Rows returns N, the number of output features (for a tensor of another
// rank, the product of all its dimensions but the last).
func (t *Tensor) Rows() int { return t.weights().Rows }

// Cols returns K, the number of input features (the last dimension).
func (t *Tensor) Cols() int { return t.weights().Cols }

// QuantType returns the code table: NF4 or FP4.
func (t *Tensor) QuantType() QuantType { return t.weights().Type }

// RowAligned reports whether every block lies within one row (K a
// multiple of the block size), the layout the products need.
func (t *Tensor) RowAligned() bool { return t != nil && t.w.RowAligned() }

// BlockSize returns the number of values that share a scale.
func (t *Tensor) BlockSize() int { return t.weights().BlockSize }

// DoubleQuant reports whether the scales are double-quantized.
func (t *Tensor) DoubleQuant() bool { return t.weights().Scales.Double() }

// Bytes returns the exact memory the weight takes: codes plus scales.
func (t *Tensor) Bytes() int { return len(t.weights().Codes) + t.weights().Scales.Bytes() }

// Float32Bytes returns the memory the same values take in float32.
func (t *Tensor) Float32Bytes() int { return 4 * t.weights().Rows * t.weights().Cols }

// CompressionRatio returns Float32Bytes/Bytes (0 for a nil tensor).
func (t *Tensor) CompressionRatio() float64 {
	if t.Bytes() == 0 {
		return 0
	}
	return float64(t.Float32Bytes()) / float64(t.Bytes())
}

// Codes returns the packed codes, (Rows*Cols+1)/2 bytes, element 2i in the
// low nibble. The slice is the tensor's own storage: do not modify it.
func (t *Tensor) Codes() []byte { return t.weights().Codes }

// Absmax returns a fresh copy of the per-block scales, decoded if they are
// double-quantized.
func (t *Tensor) Absmax() []float32 {
	if t == nil {
		return nil
	}
	s := make([]float32, t.w.Scales.Len())
	t.w.Scales.Expand(s)
	return s
}

// Weights returns the tensor in the form the cpu kernels take. The slices
// are the tensor's own storage: do not modify them.
func (t *Tensor) Weights() cpu.Weights { return *t.weights() }

// Dequantize returns W as a new float32 tensor of the tensor's shape.
func (t *Tensor) Dequantize() (*tensor.Dense, error) {
	if t == nil {
		return nil, ErrNil
	}
	out := make([]float32, t.w.Rows*t.w.Cols)
	if err := cpu.Dequantize(out, &t.w); err != nil {
		return nil, wrap("dequantize", err)
	}
	return tensor.New(tensor.WithShape(t.shape...), tensor.WithBacking(out)), nil
}

// DequantizeInto writes W row-major into dst, which must hold all its
// values (N*K).
func (t *Tensor) DequantizeInto(dst []float32) error {
	if t == nil {
		return ErrNil
	}
	return wrap("dequantize", cpu.Dequantize(dst, &t.w))
}
