package llama

import (
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// embedOp looks rows of a table [vocab, hidden] up: ids [n] (float32
// holding token ids) → [n, hidden]. The table learns when diff is set.
type embedOp struct {
	baseOp
	diff bool
}

func (op embedOp) Arity() int                { return 2 }
func (op embedOp) Type() hm.Type             { return fnType(matrixType(), vectorType(), matrixType()) }
func (op embedOp) WriteHash(h hash.Hash)     { fmt.Fprint(h, op.String()) }
func (op embedOp) Hashcode() uint32          { return hashOp(op) }
func (op embedOp) DiffWRT(inputs int) []bool { return []bool{op.diff, false} }
func (op embedOp) String() string            { return fmt.Sprintf("Embed(%v)", op.diff) }

func (op embedOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op, ds, 2)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[1].TotalSize(), s[0][1]}, nil
}

func tokenIDs(op fmt.Stringer, ids []float32, vocab int) ([]int, error) {
	out := make([]int, len(ids))
	for i, f := range ids {
		id := int(f)
		if float32(id) != f || id < 0 || id >= vocab {
			return nil, fmt.Errorf("%v: token %d is %v, not an id in the vocabulary (size %d)", op, i, f, vocab)
		}
		out[i] = id
	}
	return out, nil
}

func (op embedOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := floats(op, vs, 2)
	if err != nil {
		return nil, err
	}
	vocab, d := vs[0].Shape()[0], vs[0].Shape()[1]
	ids, err := tokenIDs(op, in[1], vocab)
	if err != nil {
		return nil, err
	}
	out := newMatrix(len(ids), d)
	o := out.Data().([]float32)
	for i, id := range ids {
		copy(o[i*d:(i+1)*d], in[0][id*d:(id+1)*d])
	}
	return out, nil
}

func (op embedOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if !op.diff {
		return G.Nodes{nil, nil}, nil
	}
	vocab := inputs[0].Shape()[0]
	d, err := G.ApplyOp(embedBackOp{vocab: vocab}, inputs[1], grad)
	return G.Nodes{d, nil}, err
}

// embedBackOp scatters dy [n, hidden] into the table's gradient [vocab, hidden].
type embedBackOp struct {
	baseOp
	vocab int
}

func (op embedBackOp) Arity() int            { return 2 }
func (op embedBackOp) Type() hm.Type         { return fnType(vectorType(), matrixType(), matrixType()) }
func (op embedBackOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op embedBackOp) Hashcode() uint32      { return hashOp(op) }
func (op embedBackOp) String() string        { return fmt.Sprintf("EmbedBack(%d)", op.vocab) }

func (op embedBackOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op, ds, 2)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{op.vocab, s[1][1]}, nil
}

func (op embedBackOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := floats(op, vs, 2)
	if err != nil {
		return nil, err
	}
	ids, err := tokenIDs(op, in[0], op.vocab)
	if err != nil {
		return nil, err
	}
	d := vs[1].Shape()[1]
	out := newMatrix(op.vocab, d)
	o := out.Data().([]float32)
	for i, id := range ids {
		add(o[id*d:(id+1)*d], in[1][i*d:(i+1)*d])
	}
	return out, nil
}

// IgnoreIndex marks a target that takes no part in the loss, as PyTorch's
// cross-entropy ignore_index does.
const IgnoreIndex = -100

// crossEntropyOp is the mean over the counted targets of
// −log softmax(logits)[target]: logits [n, vocab], targets [n] (float32
// ids; IgnoreIndex for none) → a scalar.
type crossEntropyOp struct{ baseOp }

func (op crossEntropyOp) Arity() int { return 2 }
func (op crossEntropyOp) Type() hm.Type {
	return fnType(matrixType(), vectorType(), tensor.Float32)
}
func (op crossEntropyOp) WriteHash(h hash.Hash)     { fmt.Fprint(h, op.String()) }
func (op crossEntropyOp) Hashcode() uint32          { return hashOp(op) }
func (op crossEntropyOp) DiffWRT(inputs int) []bool { return []bool{true, false} }
func (op crossEntropyOp) String() string            { return "CrossEntropy" }

func (op crossEntropyOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	if _, err := shapes(op, ds, 2); err != nil {
		return nil, err
	}
	return tensor.ScalarShape(), nil
}

// targets decodes the target ids, IgnoreIndex kept as -1.
func targets(op fmt.Stringer, t []float32, vocab int) ([]int, int, error) {
	out := make([]int, len(t))
	n := 0
	for i, f := range t {
		if f == IgnoreIndex {
			out[i] = -1
			continue
		}
		id := int(f)
		if float32(id) != f || id < 0 || id >= vocab {
			return nil, 0, fmt.Errorf("%v: target %d is %v, not an id in the vocabulary (size %d) or %d", op, i, f, vocab, IgnoreIndex)
		}
		out[i] = id
		n++
	}
	return out, n, nil
}

// logSoftmaxRow returns the log of the softmax denominator, max included.
func logSumExp(row []float32) float64 {
	best := math.Inf(-1)
	for _, v := range row {
		best = math.Max(best, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - best)
	}
	return best + math.Log(s)
}

func (op crossEntropyOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := floats(op, vs, 2)
	if err != nil {
		return nil, err
	}
	vocab := vs[0].Shape()[1]
	ts, n, err := targets(op, in[1], vocab)
	if err != nil {
		return nil, err
	}
	var loss float64
	for i, t := range ts {
		if t < 0 {
			continue
		}
		row := in[0][i*vocab : (i+1)*vocab]
		loss += logSumExp(row) - float64(row[t])
	}
	if n > 0 {
		loss /= float64(n)
	}
	return G.NewF32(float32(loss)), nil
}

func (op crossEntropyOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(crossEntropyBackOp{}, inputs[0], inputs[1], grad)
	return G.Nodes{d, nil}, err
}

// crossEntropyBackOp returns (softmax − onehot)·dloss/n.
type crossEntropyBackOp struct{ baseOp }

func (op crossEntropyBackOp) Arity() int { return 3 }
func (op crossEntropyBackOp) Type() hm.Type {
	return fnType(matrixType(), vectorType(), tensor.Float32, matrixType())
}
func (op crossEntropyBackOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op crossEntropyBackOp) Hashcode() uint32      { return hashOp(op) }
func (op crossEntropyBackOp) String() string        { return "CrossEntropyBack" }

func (op crossEntropyBackOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op, ds, 3)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op crossEntropyBackOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := floats(op, vs, 3)
	if err != nil {
		return nil, err
	}
	rows, vocab := vs[0].Shape()[0], vs[0].Shape()[1]
	ts, n, err := targets(op, in[1], vocab)
	if err != nil {
		return nil, err
	}
	out := newMatrix(rows, vocab)
	if n == 0 {
		return out, nil
	}
	o := out.Data().([]float32)
	g := float64(in[2][0]) / float64(n)
	for i, t := range ts {
		if t < 0 {
			continue
		}
		row := in[0][i*vocab : (i+1)*vocab]
		lse := logSumExp(row)
		dst := o[i*vocab : (i+1)*vocab]
		for j, v := range row {
			dst[j] = float32(math.Exp(float64(v)-lse) * g)
		}
		dst[t] -= float32(g)
	}
	return out, nil
}

// dropout draws the mask of one forward pass and keeps it for the backward
// pass of the same run.
type dropout struct {
	mu   sync.Mutex
	p    float32
	rng  *rand.Rand
	mask []float32
}

// dropoutOp zeroes each value with probability p and scales the rest by 1/(1−p).
type dropoutOp struct {
	baseOp
	d    *dropout
	back bool
}

func (op dropoutOp) Arity() int                { return 1 }
func (op dropoutOp) Type() hm.Type             { return fnType(matrixType(), matrixType()) }
func (op dropoutOp) WriteHash(h hash.Hash)     { fmt.Fprint(h, op.String()) }
func (op dropoutOp) Hashcode() uint32          { return hashOp(op) }
func (op dropoutOp) DiffWRT(inputs int) []bool { return []bool{true} }
func (op dropoutOp) String() string            { return fmt.Sprintf("Dropout(%g,%p,%v)", op.d.p, op.d, op.back) }

func (op dropoutOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op, ds, 1)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op dropoutOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := floats(op, vs, 1)
	if err != nil {
		return nil, err
	}
	s := vs[0].Shape()
	out := newMatrix(s[0], s[1])
	o := out.Data().([]float32)
	d := op.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if !op.back {
		d.mask = grow(d.mask, len(o))
		keep := 1 / (1 - d.p)
		for i := range d.mask {
			d.mask[i] = 0
			if d.rng.Float32() >= d.p {
				d.mask[i] = keep
			}
		}
	}
	if len(d.mask) != len(o) {
		return nil, fmt.Errorf("%v: backward pass before a forward pass", op)
	}
	for i, v := range in[0][:len(o)] {
		o[i] = v * d.mask[i]
	}
	return out, nil
}

func (op dropoutOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(dropoutOp{d: op.d, back: true}, grad)
	return G.Nodes{d}, err
}
