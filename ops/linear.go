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

// Linear returns the node y = x·Wᵀ for an activation x [M, K] (float32 or
// float64) and an NF4 weight node w [N, K]; y is [M, N] in x's dtype.
// Gradients flow to x only: the weight is frozen.
func Linear(x, w *gorgonia.Node) (*gorgonia.Node, error) {
	if x == nil || w == nil {
		return nil, errors.New("ops: Linear: nil node")
	}
	return gorgonia.ApplyOp(linearOp{}, x, w)
}

// linearOp computes x·Wᵀ, or dy·W when backward: the second form is the
// gradient of the first with respect to x, and the first is the gradient of
// the second, so each differentiates into the other.
type linearOp struct{ backward bool }

var (
	_ gorgonia.SDOp            = linearOp{}
	_ gorgonia.ADOp            = linearOp{}
	_ gorgonia.UsePreallocDoer = linearOp{}
)

func (op linearOp) Arity() int { return 2 }

// Type is (Matrix a, Matrix nf4) → Matrix a, built fresh on every call:
// gorgonia recycles the function types it is handed.
func (op linearOp) Type() hm.Type {
	a := gorgonia.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	return hm.NewFnType(a, gorgonia.TensorType{Dims: 2, Of: nf4.Dtype}, a)
}

func (op linearOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != 2 {
		return nil, fmt.Errorf("%v: want 2 inputs, have %d", op, len(ds))
	}
	x, ok1 := ds[0].(tensor.Shape)
	w, ok2 := ds[1].(tensor.Shape)
	if !ok1 || !ok2 || len(x) != 2 || len(w) != 2 {
		return nil, fmt.Errorf("%v: want two matrices, have shapes %v and %v", op, ds[0], ds[1])
	}
	in, out := w[1], w[0]
	if op.backward {
		in, out = w[0], w[1]
	}
	if x[1] != in {
		return nil, fmt.Errorf("%v: activation %v does not fit weight %v: want [M %d]", op, x, w, in)
	}
	return tensor.Shape{x[0], out}, nil
}

func (op linearOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	x, w, err := op.operands(inputs)
	if err != nil {
		return nil, err
	}
	if op.backward {
		return nf4.EngineOf(x).LinearBackward(x, w)
	}
	return nf4.EngineOf(x).Linear(x, w)
}

func (op linearOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	x, w, err := op.operands(inputs)
	if err != nil {
		return nil, err
	}
	out, ok := prealloc.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%v: preallocated value is %T, want *tensor.Dense", op, prealloc)
	}
	if op.backward {
		err = nf4.EngineOf(x).LinearBackwardInto(out, x, w)
	} else {
		err = nf4.EngineOf(x).LinearInto(out, x, w)
	}
	return out, err
}

func (op linearOp) operands(inputs []gorgonia.Value) (*tensor.Dense, *nf4.Tensor, error) {
	if len(inputs) != 2 {
		return nil, nil, fmt.Errorf("%v: want 2 inputs, have %d", op, len(inputs))
	}
	x, ok := inputs[0].(*tensor.Dense)
	if !ok {
		return nil, nil, fmt.Errorf("%v: activation is %T, want *tensor.Dense", op, inputs[0])
	}
	w, ok := inputs[1].(*nf4.Tensor)
	if !ok {
		return nil, nil, fmt.Errorf("%v: weight is %T, want *nf4.Tensor", op, inputs[1])
	}
	return x, w, nil
}

func (op linearOp) ReturnsPtr() bool     { return false }
func (op linearOp) CallsExtern() bool    { return false }
func (op linearOp) OverwritesInput() int { return -1 }

func (op linearOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }

func (op linearOp) Hashcode() uint32 { return hashOf(op) }

func (op linearOp) String() string {
	if op.backward {
		return "NF4Linear·W"
	}
	return "NF4Linear·Wᵀ"
}

// DiffWRT: the activation is differentiable, the frozen weight is not.
func (op linearOp) DiffWRT(inputs int) []bool { return []bool{true, false} }

func (op linearOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%v: want 2 inputs, have %d", op, len(inputs))
	}
	dx, err := gorgonia.ApplyOp(linearOp{backward: !op.backward}, grad, inputs[1])
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, nil}, nil
}

// DoDiff accumulates the activation's gradient in place (LispMachine).
func (op linearOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	if len(inputs) != 2 {
		return fmt.Errorf("%v: want 2 inputs, have %d", op, len(inputs))
	}
	gy, err := output.Grad()
	if err != nil {
		return err
	}
	gx, err := inputs[0].Grad()
	if err != nil {
		return err
	}
	dx, err := linearOp{backward: !op.backward}.Do(gy, inputs[1].Value())
	if err != nil {
		return err
	}
	gxT, ok := gx.(tensor.Tensor)
	if !ok {
		return fmt.Errorf("%v: gradient of the activation is %T, want a tensor", op, gx)
	}
	_, err = tensor.Add(gxT, dx, tensor.UseUnsafe())
	return err
}
