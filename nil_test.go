package nf4_test

import (
	"errors"
	"math/rand/v2"
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
