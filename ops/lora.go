package ops

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nf4go/nf4"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LoRAConfig sets up a LoRA layer. Zero fields take the defaults.
type LoRAConfig struct {
	Rank  int     // r, the adapters' inner size (default 8)
	Alpha float64 // the update is scaled by Alpha/Rank (default 2*Rank)

	// Bias, when set, is added to the output; it is frozen like the base.
	Bias []float32

	// Dtype of the activations and adapters: tensor.Float32 (default) or
	// tensor.Float64.
	Dtype tensor.Dtype

	// Seed makes A's initial values reproducible (0 picks a random seed).
	Seed uint64
}

// LoRA is a linear layer with a frozen NF4 base weight W [N, K] and
// trainable low-rank adapters A [r, K] and B [N, r]:
//
//	y = x·Wᵀ + (alpha/r)·(x·Aᵀ)·Bᵀ (+ bias)
//
// B starts at zero, so a fresh layer computes exactly the base layer.
type LoRA struct {
	W, A, B, Bias *gorgonia.Node
	Rank          int
	Alpha         float64
}

// NewLoRA adds a LoRA layer named name (its nodes are name+".weight",
// ".lora_A", ".lora_B", ".bias"; names must be unique in the graph) over the
// NF4 weight w.
func NewLoRA(g *gorgonia.ExprGraph, name string, w *nf4.Tensor, cfg LoRAConfig) (*LoRA, error) {
	if g == nil || w == nil {
		return nil, errors.New("ops: NewLoRA: nil graph or weight")
	}
	if name == "" {
		return nil, errors.New("ops: NewLoRA: empty name (nodes must be named uniquely)")
	}
	if s := w.Shape(); len(s) != 2 {
		return nil, fmt.Errorf("ops: NewLoRA %s: weight of shape %v: want a 2-D weight [out, in]", name, s)
	}
	r := cfg.Rank
	if r == 0 {
		r = 8
	}
	if r < 0 || r > min(w.Rows(), w.Cols()) {
		return nil, fmt.Errorf("ops: NewLoRA %s: rank %d out of range 1..%d", name, r, min(w.Rows(), w.Cols()))
	}
	alpha := cfg.Alpha
	if alpha == 0 {
		alpha = 2 * float64(r)
	}
	if math.IsNaN(alpha) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("ops: NewLoRA %s: alpha %v is not finite", name, alpha)
	}
	dt := cfg.Dtype
	if dt == (tensor.Dtype{}) {
		dt = tensor.Float32
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("ops: NewLoRA %s: dtype %v not supported: want float32 or float64", name, dt)
	}
	if cfg.Bias != nil && len(cfg.Bias) != w.Rows() {
		return nil, fmt.Errorf("ops: NewLoRA %s: bias has %d values, want %d", name, len(cfg.Bias), w.Rows())
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	// A as PyTorch's LoRA initialises it (Kaiming uniform, a=√5):
	// uniform in ±1/√K. B is zero.
	rng := rand.New(rand.NewPCG(seed, uint64(r)))
	bound := 1 / math.Sqrt(float64(w.Cols()))
	a := make([]float64, r*w.Cols())
	for i := range a {
		a[i] = (2*rng.Float64() - 1) * bound
	}
	l := &LoRA{Rank: r, Alpha: alpha}
	l.W = gorgonia.NewTensor(g, nf4.Dtype, 2, gorgonia.WithShape(w.Rows(), w.Cols()), gorgonia.WithName(name+".weight"), gorgonia.WithValue(w))
	l.A = gorgonia.NewMatrix(g, dt, gorgonia.WithShape(r, w.Cols()), gorgonia.WithName(name+".lora_A"), gorgonia.WithValue(dense(dt, a, r, w.Cols())))
	l.B = gorgonia.NewMatrix(g, dt, gorgonia.WithShape(w.Rows(), r), gorgonia.WithName(name+".lora_B"), gorgonia.WithValue(tensor.New(tensor.Of(dt), tensor.WithShape(w.Rows(), r))))
	if cfg.Bias != nil {
		b := make([]float64, len(cfg.Bias))
		for i, v := range cfg.Bias {
			b[i] = float64(v)
		}
		l.Bias = gorgonia.NewVector(g, dt, gorgonia.WithShape(w.Rows()), gorgonia.WithName(name+".bias"), gorgonia.WithValue(dense(dt, b, w.Rows())))
	}
	return l, nil
}

// dense makes a tensor of dtype dt from float64 values.
func dense(dt tensor.Dtype, v []float64, shape ...int) *tensor.Dense {
	if dt == tensor.Float64 {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
}

// Forward returns the layer's output for x [M, K].
func (l *LoRA) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if l == nil || x == nil {
		return nil, errors.New("ops: LoRA.Forward: nil layer or input")
	}
	base, err := Linear(x, l.W)
	if err != nil {
		return nil, err
	}
	at, err := gorgonia.Transpose(l.A)
	if err != nil {
		return nil, err
	}
	xa, err := gorgonia.Mul(x, at)
	if err != nil {
		return nil, err
	}
	bt, err := gorgonia.Transpose(l.B)
	if err != nil {
		return nil, err
	}
	update, err := gorgonia.Mul(xa, bt)
	if err != nil {
		return nil, err
	}
	scale := l.Alpha / float64(l.Rank)
	var s *gorgonia.Node
	if x.Dtype() == tensor.Float64 {
		s = gorgonia.NewConstant(scale)
	} else {
		s = gorgonia.NewConstant(float32(scale))
	}
	if update, err = gorgonia.Mul(update, s); err != nil {
		return nil, err
	}
	y, err := gorgonia.Add(base, update)
	if err != nil || l.Bias == nil {
		return y, err
	}
	return gorgonia.BroadcastAdd(y, l.Bias, nil, []byte{0})
}

// Learnables returns the trainable nodes, A and B: the base weight and the
// bias stay frozen.
func (l *LoRA) Learnables() gorgonia.Nodes { return gorgonia.Nodes{l.A, l.B} }

// TrainableParams returns the number of trainable values, r·(N+K).
func (l *LoRA) TrainableParams() int { return l.A.Shape().TotalSize() + l.B.Shape().TotalSize() }
