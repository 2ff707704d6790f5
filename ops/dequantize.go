package ops

import (
	"errors"
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/nf4go/nf4"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Dequantize returns a float32 node holding the dequantized weight of the
// NF4 node w, for code that wants the float matrix. No gradient flows
// through it: the weight is frozen.
func Dequantize(w *gorgonia.Node) (*gorgonia.Node, error) {
	if w == nil {
		return nil, errors.New("ops: Dequantize: nil node")
	}
	return gorgonia.ApplyOp(dequantizeOp{}, w)
}

type dequantizeOp struct{}

func (op dequantizeOp) Arity() int { return 1 }

func (op dequantizeOp) Type() hm.Type {
	return hm.NewFnType(gorgonia.TensorType{Dims: 2, Of: nf4.Dtype}, gorgonia.TensorType{Dims: 2, Of: tensor.Float32})
}

func (op dequantizeOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != 1 {
		return nil, fmt.Errorf("%v: want 1 input, have %d", op, len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, fmt.Errorf("%v: want a matrix, have shape %v", op, ds[0])
	}
	return s.Clone(), nil
}

func (op dequantizeOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("%v: want 1 input, have %d", op, len(inputs))
	}
	w, ok := inputs[0].(*nf4.Tensor)
	if !ok {
		return nil, fmt.Errorf("%v: input is %T, want *nf4.Tensor", op, inputs[0])
	}
	return w.Dequantize()
}

func (op dequantizeOp) ReturnsPtr() bool      { return false }
func (op dequantizeOp) CallsExtern() bool     { return false }
func (op dequantizeOp) OverwritesInput() int  { return -1 }
func (op dequantizeOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op dequantizeOp) Hashcode() uint32      { return hashOf(op) }
func (op dequantizeOp) String() string        { return "NF4Dequantize" }
