package nf4

import (
	"slices"
	"unsafe"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The methods below make *Tensor a gorgonia.Value of type
// TensorType{Dims: 2, Of: Dtype} (a weight; other ranks report theirs), so
// it binds to a named input node:
//
//	gorgonia.NewTensor(g, nf4.Dtype, 2, gorgonia.WithName("w"), gorgonia.WithValue(w))

var (
	_ gorgonia.Value      = (*Tensor)(nil)
	_ gorgonia.Typer      = (*Tensor)(nil)
	_ gorgonia.ZeroValuer = (*Tensor)(nil)
)

// Shape returns [N K] for a weight, or the shape a file recorded.
func (t *Tensor) Shape() tensor.Shape {
	if t == nil {
		return nil
	}
	return tensor.Shape(slices.Clone(t.shape))
}

// Size returns N*K, the number of weights.
func (t *Tensor) Size() int { return t.Rows() * t.Cols() }

// Data returns the packed codes (see Codes).
func (t *Tensor) Data() interface{} { return t.Codes() }

// Dtype returns nf4.Dtype.
func (t *Tensor) Dtype() tensor.Dtype { return Dtype }

// Uintptr returns the address of the packed codes.
func (t *Tensor) Uintptr() uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(t.Codes()))) }

// MemSize returns Bytes.
func (t *Tensor) MemSize() uintptr { return uintptr(t.Bytes()) }

// Type returns the gorgonia type "Matrix nf4" (for a weight; a tensor of
// another rank reports its own).
func (t *Tensor) Type() hm.Type {
	dims := 2
	if t != nil {
		dims = len(t.shape)
	}
	return gorgonia.TensorType{Dims: dims, Of: Dtype}
}

// Clone returns a Tensor sharing this one's storage: a Tensor is never
// modified, so sharing is as good as a copy and costs nothing. The clone
// of a nil *Tensor is a nil *Tensor.
func (t *Tensor) Clone() interface{} {
	if t == nil {
		return t
	}
	c := *t
	return &c
}

// ZeroValue returns t unchanged. Weights are frozen: gorgonia's
// LispMachine asks every input for a zero value to hold its gradient, and a
// frozen weight never receives one.
func (t *Tensor) ZeroValue() gorgonia.Value { return t }
