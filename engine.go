package nf4

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/nf4go/nf4/cpu"
	"github.com/nf4go/nf4/internal/cudaplan"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Engine is a tensor.Engine for gorgonia VMs that also runs NF4 operations.
// It embeds gorgonia.StandardEngine (tensor.StdEng plus gorgonia's own
// Transpose), the engine VMs use by default, so every float32/float64
// operation behaves exactly as it would without it. Plug it in with
//
//	gorgonia.NewTapeMachine(g, gorgonia.WithEngine(e))
//
// With WithDevice (in a build with the nf4cuda tag) float32 NF4 work runs
// on a CUDA device; an Engine is safe for concurrent use either way.
type Engine struct {
	gorgonia.StandardEngine
	cfg engineConfig
	dev accelerator // nil: CPU only
}

var _ tensor.Engine = (*Engine)(nil)

// EngineOption configures an Engine.
type EngineOption func(*Engine) error

// NewEngine returns an Engine running NF4 operations on the CPU, or on a
// CUDA device with WithDevice; an Engine with a device should be closed.
func NewEngine(opts ...EngineOption) (*Engine, error) {
	e := &Engine{cfg: defaultConfig()}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(e); err != nil {
			return nil, err
		}
	}
	if e.cfg.device >= 0 {
		dev, err := openDevice(e.cfg)
		if err != nil {
			return nil, err
		}
		e.dev = dev
		// An engine dropped without Close still hands its device back.
		runtime.AddCleanup(e, func(d accelerator) { _ = d.close() }, dev)
	}
	return e, nil
}

// defaultEngine serves values that carry no nf4 Engine.
var defaultEngine = &Engine{cfg: defaultConfig()}

// EngineOf returns the Engine stamped on v by a VM, or a CPU Engine when v
// carries none, so ops run wherever their activations' engine says.
func EngineOf(v gorgonia.Value) *Engine {
	if d, ok := v.(*tensor.Dense); ok {
		if e, ok := d.Engine().(*Engine); ok && e != nil {
			return e
		}
	}
	return defaultEngine
}

// Backend describes where NF4 operations run, e.g. "cpu (2 cores)" or
// "cuda:0 NVIDIA H100 80GB HBM3 (sm_90)".
func (e *Engine) Backend() string {
	if e == nil {
		return "<nil>"
	}
	if e.dev != nil {
		return e.dev.name()
	}
	return fmt.Sprintf("cpu (%d cores)", cpu.Threads())
}

// String describes the engine.
func (e *Engine) String() string {
	if e == nil {
		return "nf4 engine <nil>"
	}
	return "nf4 engine on " + e.Backend()
}

// Linear returns out[M, N] = x[M, K] · Wᵀ in x's dtype (float32 or float64).
// W is decoded tile by tile as the product runs; no float copy is made.
func (e *Engine) Linear(x *tensor.Dense, w *Tensor) (*tensor.Dense, error) {
	return e.apply(nil, x, w, false)
}

// LinearInto is Linear writing into out, which must be [M, N] of x's dtype.
func (e *Engine) LinearInto(out, x *tensor.Dense, w *Tensor) error {
	if out == nil {
		return ErrNil
	}
	_, err := e.apply(out, x, w, false)
	return err
}

// LinearBackward returns dx[M, K] = dy[M, N] · W, the gradient of Linear
// with respect to x.
func (e *Engine) LinearBackward(dy *tensor.Dense, w *Tensor) (*tensor.Dense, error) {
	return e.apply(nil, dy, w, true)
}

// LinearBackwardInto is LinearBackward writing into dx, [M, K] of dy's dtype.
func (e *Engine) LinearBackwardInto(dx, dy *tensor.Dense, w *Tensor) error {
	if dx == nil {
		return ErrNil
	}
	_, err := e.apply(dx, dy, w, true)
	return err
}

// Dequantize returns W as a float32 tensor of its shape ([N K] for a
// weight) on this engine. A tensor whose blocks span rows is dequantized
// on the CPU.
func (e *Engine) Dequantize(w *Tensor) (*tensor.Dense, error) {
	if e == nil {
		return nil, fmt.Errorf("nf4: dequantize on a nil engine: %w", ErrNil)
	}
	if w != nil && w.w.RowAligned() && e.useDevice(int64(w.Size())) {
		out := make([]float32, w.Size())
		switch err := e.dev.dequantize(out, w); {
		case err == nil:
			return tensor.New(tensor.WithShape(w.shape...), tensor.WithBacking(out), tensor.WithEngine(e)), nil
		case !errors.Is(err, errNotOnDevice):
			return nil, wrap("dequantize", err)
		}
	}
	d, err := w.Dequantize()
	if err != nil {
		return nil, err
	}
	tensor.WithEngine(e)(d)
	return d, nil
}

// apply runs x·Wᵀ (or dy·W when backward), into out when it is not nil.
func (e *Engine) apply(out, x *tensor.Dense, w *Tensor, backward bool) (*tensor.Dense, error) {
	op := "linear"
	if backward {
		op = "linear backward"
	}
	if e == nil || x == nil || w == nil {
		return nil, fmt.Errorf("nf4: %s: %w", op, ErrNil)
	}
	if err := w.w.CheckProduct(); err != nil {
		return nil, wrap(op, err)
	}
	in, outCols := w.w.Cols, w.w.Rows
	if backward {
		in, outCols = w.w.Rows, w.w.Cols
	}
	s := x.Shape()
	if x.Dims() != 2 || s[1] != in {
		return nil, errorf("%s: activation has shape %v, want [M %d] for weight [%d %d]", op, s, in, w.w.Rows, w.w.Cols)
	}
	m := s[0]
	if out == nil {
		out = tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(m, outCols), tensor.WithEngine(e))
	} else if o := out.Shape(); out.Dims() != 2 || o[0] != m || o[1] != outCols || out.Dtype() != x.Dtype() {
		return nil, errorf("%s: output is %v %v, want %v [%d %d]", op, out.Dtype(), o, x.Dtype(), m, outCols)
	} else if out.IsMaterializable() {
		return nil, errorf("%s: output must be contiguous, not a view", op)
	}
	if m == 0 {
		return out, nil // an empty batch: gorgonia's Data panics on empty tensors
	}
	if x.IsMaterializable() {
		x = x.Materialize().(*tensor.Dense)
	}
	var err error
	switch xs := x.Data().(type) {
	case []float32:
		if m > 0 && e.useDevice(int64(m)*int64(w.w.Rows)*int64(w.w.Cols)) {
			if err = e.runDevice(out, xs, m, w, backward); !errors.Is(err, errNotOnDevice) {
				break
			}
		}
		forward := cpu.Linear
		if e.cfg.mode == ComputeBF16 {
			forward = cpu.LinearBF16
		}
		err = run(out, xs, m, w, backward, forward, cpu.LinearBackward)
	case []float64:
		// float64 stays on the CPU: the device kernels accumulate in float32.
		err = run(out, xs, m, w, backward, cpu.Linear64, cpu.LinearBackward64)
	default:
		return nil, errorf("%s: activation dtype %v not supported: want float32 or float64", op, x.Dtype())
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// runDevice sends a float32 product to the device.
func (e *Engine) runDevice(out *tensor.Dense, x []float32, m int, w *Tensor, backward bool) error {
	op, in, outCols := cudaplan.Forward, w.w.Cols, w.w.Rows
	if backward {
		op, in, outCols = cudaplan.Backward, w.w.Rows, w.w.Cols
	}
	o, ok := out.Data().([]float32)
	if !ok || len(o) < m*outCols || len(x) < m*in {
		return fmt.Errorf("backing of %v activation or output is shorter than its shape", out.Dtype())
	}
	return e.dev.linear(op, o[:m*outCols], x[:m*in], m, w)
}

type kernel[T float32 | float64] func(out, in []T, m int, w *cpu.Weights) error

// run hands the flat data of x and out to the forward or backward kernel;
// a recycled tensor's backing can be longer than its shape, so both are cut
// to size.
func run[T float32 | float64](out *tensor.Dense, x []T, m int, w *Tensor, backward bool, forward, back kernel[T]) error {
	in, outCols := w.w.Cols, w.w.Rows
	k := forward
	if backward {
		in, outCols, k = w.w.Rows, w.w.Cols, back
	}
	o, ok := out.Data().([]T)
	if !ok || len(o) < m*outCols || len(x) < m*in {
		return fmt.Errorf("backing of %v activation or output is shorter than its shape", out.Dtype())
	}
	return k(o[:m*outCols], x[:m*in], m, &w.w)
}
