package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// mlp holds the float weights of the network, W [out, in] per layer (the
// Linear convention) and a bias per layer.
type mlp struct {
	sizes   []int // in, hidden..., classes
	weights []*tensor.Dense
	biases  []*tensor.Dense
}

func newMLP(r *rand.Rand, sizes []int) *mlp {
	m := &mlp{sizes: sizes}
	for l := 0; l+1 < len(sizes); l++ {
		in, out := sizes[l], sizes[l+1]
		w := make([]float32, out*in)
		for i := range w {
			w[i] = float32(r.NormFloat64() * math.Sqrt(2/float64(in)))
		}
		m.weights = append(m.weights, tensor.New(tensor.WithShape(out, in), tensor.WithBacking(w)))
		m.biases = append(m.biases, tensor.New(tensor.WithShape(out), tensor.WithBacking(make([]float32, out))))
	}
	return m
}

// network is one compiled graph: inputs x and y, the cost, the logits and
// the nodes to train.
type network struct {
	g          *G.ExprGraph
	x, y       *G.Node
	cost       *G.Node
	logits     G.Value
	learnables G.Nodes
	vm         G.VM
}

// floatNetwork trains or evaluates the float model.
func floatNetwork(m *mlp, batchSize int, e *nf4.Engine, train bool) (*network, error) {
	g := G.NewGraph()
	n := &network{g: g}
	n.x = G.NewMatrix(g, tensor.Float32, G.WithShape(batchSize, m.sizes[0]), G.WithName("x"))
	h := n.x
	for l, w := range m.weights {
		W := G.NewMatrix(g, tensor.Float32, G.WithShape(w.Shape()...), G.WithName(fmt.Sprintf("w%d", l)), G.WithValue(w))
		b := G.NewVector(g, tensor.Float32, G.WithShape(w.Shape()[0]), G.WithName(fmt.Sprintf("b%d", l)), G.WithValue(m.biases[l]))
		n.learnables = append(n.learnables, W, b)
		wt, err := G.Transpose(W)
		if err != nil {
			return nil, err
		}
		if h, err = G.Mul(h, wt); err != nil {
			return nil, err
		}
		if h, err = G.BroadcastAdd(h, b, nil, []byte{0}); err != nil {
			return nil, err
		}
		if l+1 < len(m.weights) {
			if h, err = G.Rectify(h); err != nil {
				return nil, err
			}
		}
	}
	return n.finish(h, m.sizes[len(m.sizes)-1], batchSize, e, train)
}

// loraNetwork runs the quantized model with LoRA adapters on every layer.
func loraNetwork(m *mlp, quantized []*nf4.Tensor, rank int, alpha float64, batchSize int, e *nf4.Engine, train bool, seed uint64) (*network, []*ops.LoRA, error) {
	g := G.NewGraph()
	n := &network{g: g}
	n.x = G.NewMatrix(g, tensor.Float32, G.WithShape(batchSize, m.sizes[0]), G.WithName("x"))
	h := n.x
	var layers []*ops.LoRA
	for l, w := range quantized {
		layer, err := ops.NewLoRA(g, fmt.Sprintf("layer%d", l), w, ops.LoRAConfig{
			Rank: rank, Alpha: alpha, Bias: m.biases[l].Data().([]float32), Seed: seed + uint64(l)})
		if err != nil {
			return nil, nil, err
		}
		layers = append(layers, layer)
		n.learnables = append(n.learnables, layer.Learnables()...)
		if h, err = layer.Forward(h); err != nil {
			return nil, nil, err
		}
		if l+1 < len(quantized) {
			if h, err = G.Rectify(h); err != nil {
				return nil, nil, err
			}
		}
	}
	n2, err := n.finish(h, m.sizes[len(m.sizes)-1], batchSize, e, train)
	return n2, layers, err
}

// finish adds the softmax cross-entropy cost, the gradients when training,
// and the VM with the nf4 engine plugged in.
func (n *network) finish(logits *G.Node, classes, batchSize int, e *nf4.Engine, train bool) (*network, error) {
	n.y = G.NewMatrix(n.g, tensor.Float32, G.WithShape(batchSize, classes), G.WithName("y"))
	G.Read(logits, &n.logits)
	logp, err := G.LogSoftMax(logits)
	if err != nil {
		return nil, err
	}
	picked, err := G.HadamardProd(logp, n.y)
	if err != nil {
		return nil, err
	}
	sum, err := G.Sum(picked)
	if err != nil {
		return nil, err
	}
	if n.cost, err = G.Div(sum, G.NewConstant(float32(-batchSize))); err != nil {
		return nil, err
	}
	opts := []G.VMOpt{G.WithEngine(e)}
	if train {
		if _, err := G.Grad(n.cost, n.learnables...); err != nil {
			return nil, err
		}
		opts = append(opts, G.BindDualValues(n.learnables...))
	}
	n.vm = G.NewTapeMachine(n.g, opts...)
	return n, nil
}

// run feeds one batch through the network and returns its mean loss and
// the number of correct predictions.
func (n *network) run(b batch) (loss float64, correct int, err error) {
	size, in := n.x.Shape()[0], n.x.Shape()[1]
	classes := n.y.Shape()[1]
	if err := G.Let(n.x, tensor.New(tensor.WithShape(size, in), tensor.WithBacking(b.x))); err != nil {
		return 0, 0, err
	}
	if err := G.Let(n.y, tensor.New(tensor.WithShape(size, classes), tensor.WithBacking(b.onehot))); err != nil {
		return 0, 0, err
	}
	n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return 0, 0, err
	}
	logits := n.logits.Data().([]float32)
	for i, want := range b.labels {
		row := logits[i*classes : (i+1)*classes]
		best := 0
		for c := range row {
			if row[c] > row[best] {
				best = c
			}
		}
		if best == want {
			correct++
		}
	}
	return float64(n.cost.Value().Data().(float32)), correct, nil
}

// evaluate returns the mean loss and accuracy over batches.
func (n *network) evaluate(batches []batch) (loss, acc float64, err error) {
	total := 0
	var correct int
	for _, b := range batches {
		l, c, err := n.run(b)
		if err != nil {
			return 0, 0, err
		}
		loss += l
		correct += c
		total += len(b.labels)
	}
	return loss / float64(len(batches)), float64(correct) / float64(total), nil
}
