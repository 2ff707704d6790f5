package llama

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The gorgonia ops of the training graph. Each fused op computes its
// forward pass in one go and differentiates into a backward op of its own,
// so a layer costs a few nodes rather than dozens of elementwise ones, and
// no gradient is ever built for a frozen input.

// baseOp holds what every op here shares; embedders give Arity, Type,
// InferShape, Do and String.
type baseOp struct{}

func (baseOp) ReturnsPtr() bool     { return false }
func (baseOp) CallsExtern() bool    { return false }
func (baseOp) OverwritesInput() int { return -1 }

func hashOp(op fmt.Stringer) uint32 {
	h := fnv.New32a()
	fmt.Fprint(h, op.String())
	return h.Sum32()
}

func matrixType() G.TensorType { return G.TensorType{Dims: 2, Of: tensor.Float32} }
func vectorType() G.TensorType { return G.TensorType{Dims: 1, Of: tensor.Float32} }

// fnType returns a fresh function type: gorgonia recycles the ones it is given.
func fnType(ts ...hm.Type) hm.Type { return hm.NewFnType(ts...) }

func shapes(op fmt.Stringer, ds []G.DimSizer, n int) ([]tensor.Shape, error) {
	if len(ds) != n {
		return nil, fmt.Errorf("%v: want %d inputs, have %d", op, n, len(ds))
	}
	out := make([]tensor.Shape, n)
	for i, d := range ds {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("%v: input %d has no shape", op, i)
		}
		out[i] = s
	}
	return out, nil
}

// floats returns the float32 data of the inputs, in order, checking their count.
func floats(op fmt.Stringer, vs []G.Value, n int) ([][]float32, error) {
	if len(vs) != n {
		return nil, fmt.Errorf("%v: want %d inputs, have %d", op, n, len(vs))
	}
	out := make([][]float32, n)
	for i, v := range vs {
		switch v := v.(type) {
		case *tensor.Dense:
			d, ok := v.Data().([]float32)
			if !ok {
				if s, ok := v.Data().(float32); ok {
					d = []float32{s}
				} else {
					return nil, fmt.Errorf("%v: input %d is %v, want float32", op, i, v.Dtype())
				}
			}
			out[i] = d
		case *G.F32:
			out[i] = []float32{float32(*v)}
		default:
			return nil, fmt.Errorf("%v: input %d is %T, want a float32 tensor", op, i, v)
		}
	}
	return out, nil
}

func newMatrix(rows, cols int) *tensor.Dense {
	return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(make([]float32, rows*cols)))
}

// gemmOp is C = scale·op(A)·op(B) on float32 matrices; diff says which
// inputs receive gradients (a frozen weight gets none).
type gemmOp struct {
	baseOp
	transA, transB bool
	scale          float32
	diff           [2]bool
}

func (op gemmOp) Arity() int                { return 2 }
func (op gemmOp) Type() hm.Type             { return fnType(matrixType(), matrixType(), matrixType()) }
func (op gemmOp) WriteHash(h hash.Hash)     { fmt.Fprint(h, op.String()) }
func (op gemmOp) Hashcode() uint32          { return hashOp(op) }
func (op gemmOp) DiffWRT(inputs int) []bool { return op.diff[:] }
func (op gemmOp) String() string {
	return fmt.Sprintf("Gemm(%v,%v,%g,%v)", op.transA, op.transB, op.scale, op.diff)
}

func (op gemmOp) dims(a, b tensor.Shape) (m, n, k int, err error) {
	if len(a) != 2 || len(b) != 2 {
		return 0, 0, 0, fmt.Errorf("%v: want matrices, have %v and %v", op, a, b)
	}
	m, k = a[0], a[1]
	if op.transA {
		m, k = k, m
	}
	kb, n := b[0], b[1]
	if op.transB {
		kb, n = n, kb
	}
	if k != kb {
		return 0, 0, 0, fmt.Errorf("%v: inner sizes differ: %v and %v", op, a, b)
	}
	return m, n, k, nil
}

func (op gemmOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op, ds, 2)
	if err != nil {
		return nil, err
	}
	m, n, _, err := op.dims(s[0], s[1])
	return tensor.Shape{m, n}, err
}

func (op gemmOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := floats(op, vs, 2)
	if err != nil {
		return nil, err
	}
	m, n, k, err := op.dims(vs[0].Shape(), vs[1].Shape())
	if err != nil {
		return nil, err
	}
	out := newMatrix(m, n)
	gemm(op.transA, op.transB, m, n, k, op.scale, in[0], in[1], 0, out.Data().([]float32))
	return out, nil
}

func (op gemmOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	a, b := inputs[0], inputs[1]
	d := [2]bool{true, true}
	var da, db *G.Node
	var err error
	switch {
	case !op.transA && !op.transB: // C = AB: dA = dC·Bᵀ, dB = Aᵀ·dC
		if op.diff[0] {
			da, err = G.ApplyOp(gemmOp{transB: true, scale: op.scale, diff: d}, grad, b)
		}
		if err == nil && op.diff[1] {
			db, err = G.ApplyOp(gemmOp{transA: true, scale: op.scale, diff: d}, a, grad)
		}
	case !op.transA && op.transB: // C = ABᵀ: dA = dC·B, dB = dCᵀ·A
		if op.diff[0] {
			da, err = G.ApplyOp(gemmOp{scale: op.scale, diff: d}, grad, b)
		}
		if err == nil && op.diff[1] {
			db, err = G.ApplyOp(gemmOp{transA: true, scale: op.scale, diff: d}, grad, a)
		}
	case op.transA && !op.transB: // C = AᵀB: dA = B·dCᵀ, dB = A·dC
		if op.diff[0] {
			da, err = G.ApplyOp(gemmOp{transB: true, scale: op.scale, diff: d}, b, grad)
		}
		if err == nil && op.diff[1] {
			db, err = G.ApplyOp(gemmOp{scale: op.scale, diff: d}, a, grad)
		}
	default:
		err = fmt.Errorf("%v: no gradient for AᵀBᵀ", op)
	}
	return G.Nodes{da, db}, err
}

// rmsNormOp is y = x / sqrt(mean(x²) + eps) · w, row by row.
type rmsNormOp struct {
	baseOp
	eps   float64
	diffW bool
}

func (op rmsNormOp) Arity() int                { return 2 }
func (op rmsNormOp) Type() hm.Type             { return fnType(matrixType(), vectorType(), matrixType()) }
func (op rmsNormOp) WriteHash(h hash.Hash)     { fmt.Fprint(h, op.String()) }
func (op rmsNormOp) Hashcode() uint32          { return hashOp(op) }
func (op rmsNormOp) DiffWRT(inputs int) []bool { return []bool{true, op.diffW} }
func (op rmsNormOp) String() string            { return fmt.Sprintf("RMSNorm(%g,%v)", op.eps, op.diffW) }

func (op rmsNormOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op, ds, 2)
	if err != nil {
		return nil, err
	}
	if len(s[0]) != 2 || s[1].TotalSize() != s[0][1] {
		return nil, fmt.Errorf("%v: input %v does not fit weight %v", op, s[0], s[1])
	}
	return s[0].Clone(), nil
}

func (op rmsNormOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := floats(op, vs, 2)
	if err != nil {
		return nil, err
	}
	s := vs[0].Shape()
	out := newMatrix(s[0], s[1])
	rmsNorm(out.Data().([]float32), in[0], in[1], s[0], op.eps)
	return out, nil
}

func (op rmsNormOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(rmsNormBackOp{eps: op.eps}, inputs[0], inputs[1], grad)
	if err != nil || !op.diffW {
		return G.Nodes{dx, nil}, err
	}
	dw, err := G.ApplyOp(rmsNormBackOp{eps: op.eps, weight: true}, inputs[0], inputs[1], grad)
	return G.Nodes{dx, dw}, err
}

// rmsNormBackOp returns dx (or dw when weight) of rmsNormOp from x, w, dy.
type rmsNormBackOp struct {
	baseOp
	eps    float64
	weight bool
}

func (op rmsNormBackOp) Arity() int { return 3 }
func (op rmsNormBackOp) Type() hm.Type {
	if op.weight {
		return fnType(matrixType(), vectorType(), matrixType(), vectorType())
	}
	return fnType(matrixType(), vectorType(), matrixType(), matrixType())
}
func (op rmsNormBackOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op rmsNormBackOp) Hashcode() uint32      { return hashOp(op) }
func (op rmsNormBackOp) String() string        { return fmt.Sprintf("RMSNormBack(%g,%v)", op.eps, op.weight) }

func (op rmsNormBackOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op, ds, 3)
	if err != nil {
		return nil, err
	}
	if op.weight {
		return s[1].Clone(), nil
	}
	return s[0].Clone(), nil
}

func (op rmsNormBackOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := floats(op, vs, 3)
	if err != nil {
		return nil, err
	}
	x, w, dy := in[0], in[1], in[2]
	rows, d := vs[0].Shape()[0], len(w)
	var out *tensor.Dense
	if op.weight {
		out = tensor.New(tensor.WithShape(d), tensor.WithBacking(make([]float32, d)))
	} else {
		out = newMatrix(rows, d)
	}
	o := out.Data().([]float32)
	for r := range rows {
		xr, gr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d]
		var ss float64
		for _, v := range xr {
			ss += float64(v) * float64(v)
		}
		inv := 1 / sqrt(ss/float64(d)+op.eps)
		if op.weight {
			for i, v := range xr {
				o[i] += gr[i] * float32(float64(v)*inv)
			}
			continue
		}
		var dot float64
		for i, v := range xr {
			dot += float64(gr[i]) * float64(w[i]) * float64(v)
		}
		c := inv * inv * inv * dot / float64(d)
		dx := o[r*d : (r+1)*d]
		for i, v := range xr {
			dx[i] = float32(inv*float64(gr[i])*float64(w[i]) - c*float64(v))
		}
	}
	return out, nil
}

// swigluOp is silu(gate)·up.
type swigluOp struct{ baseOp }

func (op swigluOp) Arity() int                { return 2 }
func (op swigluOp) Type() hm.Type             { return fnType(matrixType(), matrixType(), matrixType()) }
func (op swigluOp) WriteHash(h hash.Hash)     { fmt.Fprint(h, op.String()) }
func (op swigluOp) Hashcode() uint32          { return hashOp(op) }
func (op swigluOp) DiffWRT(inputs int) []bool { return []bool{true, true} }
func (op swigluOp) String() string            { return "SwiGLU" }

func (op swigluOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op, ds, 2)
	if err != nil {
		return nil, err
	}
	if !s[0].Eq(s[1]) {
		return nil, fmt.Errorf("%v: gate %v and up %v differ", op, s[0], s[1])
	}
	return s[0].Clone(), nil
}

func (op swigluOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := floats(op, vs, 2)
	if err != nil {
		return nil, err
	}
	s := vs[0].Shape()
	out := newMatrix(s[0], s[1])
	o := out.Data().([]float32)
	for i, g := range in[0][:len(o)] {
		o[i] = silu(g) * in[1][i]
	}
	return out, nil
}

func (op swigluOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dg, err := G.ApplyOp(swigluBackOp{}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	du, err := G.ApplyOp(swigluBackOp{up: true}, inputs[0], inputs[1], grad)
	return G.Nodes{dg, du}, err
}

// swigluBackOp returns d gate (or d up) of swigluOp from gate, up, dy.
type swigluBackOp struct {
	baseOp
	up bool
}

func (op swigluBackOp) Arity() int { return 3 }
func (op swigluBackOp) Type() hm.Type {
	return fnType(matrixType(), matrixType(), matrixType(), matrixType())
}
func (op swigluBackOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op swigluBackOp) Hashcode() uint32      { return hashOp(op) }
func (op swigluBackOp) String() string        { return fmt.Sprintf("SwiGLUBack(%v)", op.up) }

func (op swigluBackOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op, ds, 3)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op swigluBackOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := floats(op, vs, 3)
	if err != nil {
		return nil, err
	}
	s := vs[0].Shape()
	out := newMatrix(s[0], s[1])
	o := out.Data().([]float32)
	for i := range o {
		g, u, dy := in[0][i], in[1][i], in[2][i]
		sg := 1 / (1 + exp32(-g))
		if op.up {
			o[i] = dy * g * sg
		} else {
			o[i] = dy * u * sg * (1 + g*(1-sg))
		}
	}
	return out, nil
}
