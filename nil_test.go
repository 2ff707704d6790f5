package nf4_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nf4go/nf4"
	"gorgonia.org/tensor"
)

// A nil *Tensor never panics: accessors read as an empty weight,
// operations return nf4.ErrNil.
func TestNilTensor(t *testing.T) {
	var w *nf4.Tensor
	if w.Rows() != 0 || w.Cols() != 0 || w.BlockSize() != 0 || w.DoubleQuant() || w.Bytes() != 0 ||
		w.Float32Bytes() != 0 || w.CompressionRatio() != 0 || w.Codes() != nil || w.Absmax() != nil ||
		w.Shape() != nil || w.Size() != 0 || w.MemSize() != 0 || w.Uintptr() != 0 || w.Weights().Codes != nil {
		t.Error("a nil tensor does not read as empty")
	}
	if c, ok := w.Clone().(*nf4.Tensor); !ok || c != nil {
		t.Errorf("Clone of nil = %v", w.Clone())
	}
	if _, err := w.Dequantize(); !errors.Is(err, nf4.ErrNil) {
		t.Errorf("Dequantize: %v", err)
	}
	if _, err := w.PackedBlocks(); !errors.Is(err, nf4.ErrNil) {
		t.Errorf("PackedBlocks: %v", err)
	}
	if w.String() != "NF4<nil>" || w.Type() == nil {
		t.Errorf("String %q", w.String())
	}
	e, err := nf4.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(tensor.WithShape(2, 64), tensor.WithBacking(make([]float32, 128)))
	if _, err := e.Linear(x, w); !errors.Is(err, nf4.ErrNil) {
		t.Errorf("Linear with a nil weight: %v", err)
	}
}

// A nil *Engine (NewEngine's result on error, used anyway) never panics:
// NF4 operations return nf4.ErrNil and it prints as such.
func TestNilEngine(t *testing.T) {
	var e *nf4.Engine
	w, err := nf4.QuantizeFloat32s(randomMatrix(rand.New(rand.NewPCG(1, 2)), 8, 64), 8, 64)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(tensor.WithShape(2, 64), tensor.WithBacking(make([]float32, 128)))
	dy := tensor.New(tensor.WithShape(2, 8), tensor.WithBacking(make([]float32, 16)))
	if _, err := e.Linear(x, w); !errors.Is(err, nf4.ErrNil) {
		t.Errorf("Linear: %v", err)
	}
	if _, err := e.LinearBackward(dy, w); !errors.Is(err, nf4.ErrNil) {
		t.Errorf("LinearBackward: %v", err)
	}
	if err := e.LinearInto(dy, x, w); !errors.Is(err, nf4.ErrNil) {
		t.Errorf("LinearInto: %v", err)
	}
	if _, err := e.Dequantize(w); !errors.Is(err, nf4.ErrNil) {
		t.Errorf("Dequantize: %v", err)
	}
	if e.String() != "nf4 engine <nil>" || e.OnDevice() || e.DeviceBytes() != 0 || e.Release(w) != nil || e.Close() != nil {
		t.Errorf("a nil engine does not read as none: %q", e.String())
	}
}

// An empty batch (M = 0) gives an empty result, forward and backward, in
// both float types, and into a given output.
func TestEmptyBatch(t *testing.T) {
	w, err := nf4.QuantizeFloat32s(randomMatrix(rand.New(rand.NewPCG(1, 2)), 8, 64), 8, 64)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := nf4.NewEngine()
	for _, backing := range []any{[]float32{}, []float64{}} {
		x := tensor.New(tensor.WithShape(0, 64), tensor.WithBacking(backing))
		y, err := e.Linear(x, w)
		if err != nil || !y.Shape().Eq(tensor.Shape{0, 8}) || y.Dtype() != x.Dtype() {
			t.Errorf("Linear of %T [0 64]: %v %v", backing, y.Shape(), err)
		}
		dy := tensor.New(tensor.WithShape(0, 8), tensor.WithBacking(backing))
		dx, err := e.LinearBackward(dy, w)
		if err != nil || !dx.Shape().Eq(tensor.Shape{0, 64}) {
			t.Errorf("LinearBackward of %T [0 8]: %v %v", backing, dx.Shape(), err)
		}
		if err := e.LinearInto(y, x, w); err != nil {
			t.Errorf("LinearInto an empty output: %v", err)
		}
	}
	// Shapes are still checked.
	bad := tensor.New(tensor.WithShape(0, 32), tensor.WithBacking([]float32{}))
	if _, err := e.Linear(bad, w); err == nil {
		t.Error("[0 32] accepted for a weight of K = 64")
	}
}

// A finite float64 weight beyond float32's range is called that, not
// "non-finite"; it still is a NonFiniteError for callers that test for one.
func TestFloat64OutOfRange(t *testing.T) {
	v := make([]float64, 2*64)
	v[64+5] = 1e300
	for _, quantize := range []func() error{
		func() error { _, err := nf4.QuantizeFloat64s(v, 2, 64); return err },
		func() error {
			_, err := nf4.Quantize(tensor.New(tensor.WithShape(2, 64), tensor.WithBacking(v)))
			return err
		},
	} {
		err := quantize()
		var nf *nf4.NonFiniteError
		if err == nil || !strings.Contains(err.Error(), "1e+300 at row 1, column 5") || !strings.Contains(err.Error(), "out of float32 range") ||
			strings.Contains(err.Error(), "non-finite") || !errors.As(err, &nf) {
			t.Errorf("1e300: %v", err)
		}
	}
	v[64+5] = math.Inf(-1)
	if _, err := nf4.QuantizeFloat64s(v, 2, 64); err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Errorf("-Inf: %v", err)
	}
}
