package llama

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// GraphOptions shapes a training or evaluation graph.
type GraphOptions struct {
	Batch, Seq int // sequences per run and tokens per sequence
	// Train adds the gradients of the learnables: the LoRA adapters, or
	// with Full every float weight (pretraining; NF4 weights stay frozen).
	Train, Full bool
	Seed        uint64 // LoRA dropout masks (0: random)
}

// Graph is the model as a gorgonia graph for batches of Batch sequences of
// Seq tokens: a loss over next-token targets and the logits, run by a
// TapeMachine on the model's engine. The learnables are bound to the
// model's own tensors, so training updates the model in place.
type Graph struct {
	Options GraphOptions
	G       *G.ExprGraph
	// Learnables are the nodes that receive gradients; Params[i] is the
	// model tensor Learnables[i] holds, Names[i] its name.
	Learnables G.Nodes
	Params     []*tensor.Dense
	Names      []string

	m                *Model
	ids, targets, x0 *G.Node
	loss, logits     *G.Node
	lossVal, logVal  G.Value
	vm               G.VM
}

// builder keeps the state of one graph under construction.
type builder struct {
	*Graph
	full  bool
	train bool
	rng   *rand.Rand
	names map[string]bool
}

// Graph builds the model's graph.
func (m *Model) Graph(o GraphOptions) (*Graph, error) {
	if o.Batch <= 0 || o.Seq <= 0 {
		return nil, fmt.Errorf("llama: graph batch %d × sequence %d: want positive sizes", o.Batch, o.Seq)
	}
	if o.Seq > m.Config.MaxPositionEmbeddings {
		return nil, fmt.Errorf("llama: graph sequence of %d tokens is longer than the context of %d (max_position_embeddings)", o.Seq, m.Config.MaxPositionEmbeddings)
	}
	if o.Full && len(m.Adapted()) > 0 {
		return nil, errors.New("llama: a full-training graph of a model with LoRA adapters: train either the weights or the adapters")
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	gr := &Graph{Options: o, G: G.NewGraph(), m: m}
	b := &builder{Graph: gr, full: o.Full && o.Train, train: o.Train, rng: rand.New(rand.NewPCG(seed, 0x64726f70)), names: map[string]bool{}}
	if err := b.build(); err != nil {
		return nil, err
	}
	if o.Train {
		if len(gr.Learnables) == 0 {
			return nil, errors.New("llama: nothing to train: add LoRA adapters (AddLoRA) or build a Full graph of a float model")
		}
		if _, err := G.Grad(gr.loss, gr.Learnables...); err != nil {
			return nil, fmt.Errorf("llama: gradients: %w", err)
		}
		gr.vm = G.NewTapeMachine(gr.G, G.WithEngine(m.engine), G.BindDualValues(gr.Learnables...))
	} else {
		gr.vm = G.NewTapeMachine(gr.G, G.WithEngine(m.engine))
	}
	return gr, nil
}

func (b *builder) name(n string) (G.NodeConsOpt, error) {
	if b.names[n] {
		return nil, fmt.Errorf("llama: two graph nodes named %q", n)
	}
	b.names[n] = true
	return G.WithName(n), nil
}

// param binds a float tensor to a node; it learns when learn is set.
func (b *builder) param(name string, t *tensor.Dense, learn bool) (*G.Node, error) {
	opt, err := b.name(name)
	if err != nil {
		return nil, err
	}
	var n *G.Node
	if t.Dims() == 1 {
		n = G.NewVector(b.G, tensor.Float32, G.WithShape(t.Shape()...), opt, G.WithValue(t))
	} else {
		n = G.NewMatrix(b.G, tensor.Float32, G.WithShape(t.Shape()...), opt, G.WithValue(t))
	}
	if learn {
		b.Learnables = append(b.Learnables, n)
		b.Params = append(b.Params, t)
		b.Names = append(b.Names, name)
	}
	return n, nil
}

func vec(v []float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v))
}

// weight returns the node of a linear layer's weight.
func (b *builder) weight(l *Linear) (*G.Node, error) {
	if l.NF4 != nil {
		opt, err := b.name(l.Name + ".weight")
		if err != nil {
			return nil, err
		}
		return G.NewTensor(b.G, nf4.Dtype, 2, G.WithShape(l.Out, l.In), opt, G.WithValue(l.NF4)), nil
	}
	return b.param(l.Name+".weight", l.Float, b.full)
}

// product is x·Wᵀ for a weight node of either kind.
func (b *builder) product(x, w *G.Node, l *Linear) (*G.Node, error) {
	if l.NF4 != nil {
		return ops.Linear(x, w)
	}
	return G.ApplyOp(gemmOp{transB: true, scale: 1, diff: [2]bool{true, b.full}}, x, w)
}

// linear is the layer l applied to x: base, bias and LoRA.
func (b *builder) linear(x *G.Node, l *Linear) (*G.Node, error) {
	w, err := b.weight(l)
	if err != nil {
		return nil, err
	}
	y, err := b.product(x, w, l)
	if err != nil {
		return nil, fmt.Errorf("llama: %s: %w", l.Name, err)
	}
	if l.Bias != nil {
		bias, err := b.param(l.Name+".bias", vec(l.Bias), b.full)
		if err != nil {
			return nil, err
		}
		if y, err = G.BroadcastAdd(y, bias, nil, []byte{0}); err != nil {
			return nil, err
		}
	}
	a := l.LoRA
	if a == nil {
		return y, nil
	}
	in := x
	if b.train && a.Dropout > 0 {
		d := &dropout{p: float32(a.Dropout), rng: rand.New(rand.NewPCG(b.rng.Uint64(), b.rng.Uint64()))}
		if in, err = G.ApplyOp(dropoutOp{d: d}, x); err != nil {
			return nil, err
		}
	}
	an, err := b.param(l.Name+".lora_A", a.A, true)
	if err != nil {
		return nil, err
	}
	bn, err := b.param(l.Name+".lora_B", a.B, true)
	if err != nil {
		return nil, err
	}
	both := [2]bool{true, true}
	xa, err := G.ApplyOp(gemmOp{transB: true, scale: 1, diff: both}, in, an)
	if err != nil {
		return nil, err
	}
	u, err := G.ApplyOp(gemmOp{transB: true, scale: float32(a.Scale()), diff: both}, xa, bn)
	if err != nil {
		return nil, err
	}
	return G.Add(y, u)
}

func (b *builder) norm(x *G.Node, w *tensor.Dense, name string) (*G.Node, error) {
	wn, err := b.param(name, w, b.full)
	if err != nil {
		return nil, err
	}
	return G.ApplyOp(rmsNormOp{eps: b.m.Config.RMSNormEps, diffW: b.full}, x, wn)
}

func (b *builder) build() error {
	m, c, o := b.m, b.m.Config, b.Options
	n := o.Batch * o.Seq
	d := c.HiddenSize
	var err error
	b.ids = G.NewVector(b.G, tensor.Float32, G.WithShape(n), G.WithName("input_ids"))
	b.targets = G.NewVector(b.G, tensor.Float32, G.WithShape(n), G.WithName("labels"))
	var table, x *G.Node
	if b.full && !m.Embed.IsNF4() {
		if table, err = b.param(m.Embed.Name+".weight", m.Embed.Float, true); err != nil {
			return err
		}
		if x, err = G.ApplyOp(embedOp{diff: true}, table, b.ids); err != nil {
			return err
		}
	} else {
		// a frozen embedding is looked up outside the graph
		b.x0 = G.NewMatrix(b.G, tensor.Float32, G.WithShape(n, d), G.WithName("inputs_embeds"))
		x = b.x0
	}
	at := attnOp{heads: c.NumAttentionHeads, kvHeads: c.NumKeyValueHeads, headDim: c.HeadDim, seq: o.Seq, rope: m.rope}
	for i, l := range m.Layers {
		p := fmt.Sprintf("model.layers.%d.", i)
		h, err := b.norm(x, l.InputNorm, p+"input_layernorm.weight")
		if err != nil {
			return err
		}
		var qkv [3]*G.Node
		for j, lin := range []*Linear{l.Q, l.K, l.V} {
			if qkv[j], err = b.linear(h, lin); err != nil {
				return err
			}
		}
		cat, err := G.Concat(1, qkv[:]...)
		if err != nil {
			return err
		}
		att, err := G.ApplyOp(at, cat)
		if err != nil {
			return err
		}
		out, err := b.linear(att, l.O)
		if err != nil {
			return err
		}
		if x, err = G.Add(x, out); err != nil {
			return err
		}
		if h, err = b.norm(x, l.PostNorm, p+"post_attention_layernorm.weight"); err != nil {
			return err
		}
		gate, err := b.linear(h, l.Gate)
		if err != nil {
			return err
		}
		up, err := b.linear(h, l.Up)
		if err != nil {
			return err
		}
		act, err := G.ApplyOp(swigluOp{}, gate, up)
		if err != nil {
			return err
		}
		down, err := b.linear(act, l.Down)
		if err != nil {
			return err
		}
		if x, err = G.Add(x, down); err != nil {
			return err
		}
	}
	h, err := b.norm(x, m.Norm, "model.norm.weight")
	if err != nil {
		return err
	}
	if m.LMHead == m.Embed && table != nil {
		b.logits, err = G.ApplyOp(gemmOp{transB: true, scale: 1, diff: [2]bool{true, true}}, h, table)
	} else {
		head := *m.LMHead
		head.Name = "lm_head"
		b.logits, err = b.linear(h, &head)
	}
	if err != nil {
		return err
	}
	if b.loss, err = G.ApplyOp(crossEntropyOp{}, b.logits, b.targets); err != nil {
		return err
	}
	G.Read(b.loss, &b.lossVal)
	G.Read(b.logits, &b.logVal)
	return nil
}

// Batch is one run's tokens: IDs and the next-token Targets, Batch·Seq
// each, sequence after sequence. A target of IgnoreIndex is not counted.
type Batch struct {
	IDs, Targets []int
}

// NextTokenBatch makes the batch that teaches each sequence (of Seq+1
// tokens) to predict its next token.
func NextTokenBatch(seqs [][]int) (Batch, error) {
	var b Batch
	for i, s := range seqs {
		if len(s) < 2 || len(s) != len(seqs[0]) {
			return Batch{}, fmt.Errorf("llama: sequence %d has %d tokens: want %d, at least 2", i, len(s), len(seqs[0]))
		}
		b.IDs = append(b.IDs, s[:len(s)-1]...)
		b.Targets = append(b.Targets, s[1:]...)
	}
	return b, nil
}

// Run feeds one batch through the graph (computing gradients when it
// trains) and returns the mean loss over the counted targets.
func (g *Graph) Run(b Batch) (float64, error) {
	n := g.Options.Batch * g.Options.Seq
	if len(b.IDs) != n || len(b.Targets) != n {
		return 0, fmt.Errorf("llama: batch of %d ids and %d targets, the graph takes %d × %d = %d", len(b.IDs), len(b.Targets), g.Options.Batch, g.Options.Seq, n)
	}
	V := g.m.Config.VocabSize
	ids := make([]float32, n)
	ts := make([]float32, n)
	for i, id := range b.IDs {
		if id < 0 || id >= V {
			return 0, fmt.Errorf("llama: token %d is %d, outside the vocabulary (size %d)", i, id, V)
		}
		ids[i] = float32(id)
	}
	for i, t := range b.Targets {
		if t != IgnoreIndex && (t < 0 || t >= V) {
			return 0, fmt.Errorf("llama: target %d is %d, outside the vocabulary (size %d) and not IgnoreIndex", i, t, V)
		}
		ts[i] = float32(t)
	}
	if err := G.Let(g.ids, vec(ids)); err != nil {
		return 0, err
	}
	if err := G.Let(g.targets, vec(ts)); err != nil {
		return 0, err
	}
	if g.x0 != nil {
		d := g.m.Config.HiddenSize
		x := make([]float32, n*d)
		for i, id := range b.IDs {
			g.m.Embed.embedRow(x[i*d:(i+1)*d], id)
		}
		if err := G.Let(g.x0, tensor.New(tensor.WithShape(n, d), tensor.WithBacking(x))); err != nil {
			return 0, err
		}
	}
	// The VM adds each run's gradients to what its dual values hold.
	for _, n := range g.Learnables {
		if gv, err := n.Grad(); err == nil && gv != nil {
			if d, ok := gv.Data().([]float32); ok {
				clear(d)
			}
		}
	}
	g.vm.Reset()
	if err := g.vm.RunAll(); err != nil {
		return 0, fmt.Errorf("llama: graph: %w", err)
	}
	l, ok := g.lossVal.Data().(float32)
	if !ok {
		return 0, fmt.Errorf("llama: loss is %T", g.lossVal.Data())
	}
	return float64(l), nil
}

// Logits returns the logits [Batch·Seq, vocab] of the last Run.
func (g *Graph) Logits() []float32 {
	if g.logVal == nil {
		return nil
	}
	return g.logVal.Data().([]float32)
}

// Grads returns the gradients of the learnables from the last Run, in
// Learnables order (views of the VM's values: copy what must be kept).
func (g *Graph) Grads() ([][]float32, error) {
	out := make([][]float32, len(g.Learnables))
	for i, n := range g.Learnables {
		gv, err := n.Grad()
		if err != nil {
			return nil, fmt.Errorf("llama: gradient of %s: %w", g.Names[i], err)
		}
		d, ok := gv.Data().([]float32)
		if !ok || len(d) != g.Params[i].Shape().TotalSize() {
			return nil, fmt.Errorf("llama: gradient of %s is %v %v", g.Names[i], gv.Dtype(), gv.Shape())
		}
		out[i] = d
	}
	return out, nil
}

// Close releases the VM.
func (g *Graph) Close() error {
	if c, ok := g.vm.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
