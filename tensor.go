package nf4

import (
	"github.com/nf4go/nf4/cpu"
	"gorgonia.org/tensor"
)

// Tensor is an NF4 weight W[N, K]: packed 4-bit codes and one scale per
// block of BlockSize values along K. A Tensor is immutable once made, so
// it can be shared freely between graphs and goroutines.
type Tensor struct {
	w cpu.Weights
}

// Option configures quantization.
type Option func(*options)

type options struct {
	blockSize int
	double    bool
}

// WithBlockSize sets how many consecutive values of a row share one scale
// (default 64; powers of two from 32 to 4096).
func WithBlockSize(b int) Option { return func(o *options) { o.blockSize = b } }

// WithDoubleQuant compresses the scales too (QLoRA's double quantization):
// 8-bit codes of absmax minus its mean, in nested blocks of 256, for 4.127
// bits per weight instead of 4.5 at block size 64.
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

// Quantize converts a 2-D float32 or float64 tensor to NF4.
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
	rows, cols := t.Shape()[0], t.Shape()[1]
	switch data := t.Data().(type) {
	case []float32:
		return quantize(data, nil, rows, cols, collect(opts))
	case []float64:
		return QuantizeFloat64s(data, rows, cols, opts...)
	}
	return nil, errorf("quantize: dtype %v not supported: want float32 or float64", t.Dtype())
}

// QuantizeFloat32s converts the row-major matrix data[rows*cols] to NF4.
func QuantizeFloat32s(data []float32, rows, cols int, opts ...Option) (*Tensor, error) {
	return quantize(data, nil, rows, cols, collect(opts))
}

// QuantizeFloat64s converts the row-major matrix data[rows*cols] to NF4.
func QuantizeFloat64s(data []float64, rows, cols int, opts ...Option) (*Tensor, error) {
	t, err := quantize(nil, data, rows, cols, collect(opts))
	return t, float32Range(err)
}

func quantize(f32 []float32, f64 []float64, rows, cols int, o options) (*Tensor, error) {
	if err := cpu.CheckShape(rows, cols, o.blockSize); err != nil {
		return nil, wrap("quantize", err)
	}
	n := rows * cols
	if f32 == nil && f64 == nil || f32 != nil && len(f32) != n || f64 != nil && len(f64) != n {
		return nil, errorf("quantize: have %d values, want %d for shape [%d %d]", max(len(f32), len(f64)), n, rows, cols)
	}
	w := cpu.Weights{Rows: rows, Cols: cols, BlockSize: o.blockSize, Codes: make([]byte, n/2)}
	absmax := make([]float32, n/o.blockSize)
	var err error
	if f32 != nil {
		err = cpu.Quantize(w.Codes, absmax, f32, rows, cols, o.blockSize)
	} else {
		err = cpu.Quantize64(w.Codes, absmax, f64, rows, cols, o.blockSize)
	}
	if err != nil {
		return nil, wrap("quantize", err)
	}
	w.Scales = cpu.Scales{Absmax: absmax}
	if o.double {
		w.Scales = cpu.DoubleQuantize(absmax)
	}
	return &Tensor{w: w}, nil
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

// Rows returns N, the number of output features.
func (t *Tensor) Rows() int { return t.weights().Rows }

// Cols returns K, the number of input features.
func (t *Tensor) Cols() int { return t.weights().Cols }

// BlockSize returns the number of values that share a scale.
func (t *Tensor) BlockSize() int { return t.weights().BlockSize }

// DoubleQuant reports whether the scales are double-quantized.
func (t *Tensor) DoubleQuant() bool { return t.weights().Scales.Double() }

// Bytes returns the exact memory the weight takes: codes plus scales.
func (t *Tensor) Bytes() int { return len(t.weights().Codes) + t.weights().Scales.Bytes() }

// Float32Bytes returns the memory the same matrix takes in float32.
func (t *Tensor) Float32Bytes() int { return 4 * t.weights().Rows * t.weights().Cols }

// CompressionRatio returns Float32Bytes/Bytes (0 for a nil tensor).
func (t *Tensor) CompressionRatio() float64 {
	if t.Bytes() == 0 {
		return 0
	}
	return float64(t.Float32Bytes()) / float64(t.Bytes())
}

// Codes returns the packed codes, Rows*Cols/2 bytes, element 2i in the low
// nibble. The slice is the tensor's own storage: do not modify it.
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

// Dequantize returns W as a new float32 tensor of shape [N K].
func (t *Tensor) Dequantize() (*tensor.Dense, error) {
	if t == nil {
		return nil, ErrNil
	}
	out := make([]float32, t.w.Rows*t.w.Cols)
	if err := cpu.Dequantize(out, &t.w); err != nil {
		return nil, wrap("dequantize", err)
	}
	return tensor.New(tensor.WithShape(t.w.Rows, t.w.Cols), tensor.WithBacking(out)), nil
}

// DequantizeInto writes W row-major into dst, which must hold N*K values.
func (t *Tensor) DequantizeInto(dst []float32) error {
	if t == nil {
		return ErrNil
	}
	return wrap("dequantize", cpu.Dequantize(dst, &t.w))
}
