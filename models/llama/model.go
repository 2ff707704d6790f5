package llama

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/nf4go/nf4"
	"gorgonia.org/tensor"
)

// Module names of a decoder layer's projections, as transformers and PEFT
// name them.
var (
	AttentionModules = []string{"q_proj", "k_proj", "v_proj", "o_proj"}
	MLPModules       = []string{"gate_proj", "up_proj", "down_proj"}
	AllModules       = append(append([]string(nil), AttentionModules...), MLPModules...)
)

// Layer is one decoder layer.
type Layer struct {
	InputNorm, PostNorm *tensor.Dense // RMSNorm weights [hidden]
	Q, K, V, O          *Linear
	Gate, Up, Down      *Linear
}

// Linears returns the layer's projections in AllModules order.
func (l *Layer) Linears() []*Linear { return []*Linear{l.Q, l.K, l.V, l.O, l.Gate, l.Up, l.Down} }

// Model is a Llama decoder (LlamaForCausalLM).
type Model struct {
	Config *Config
	Embed  *Linear // the token embedding [vocab, hidden] ("model.embed_tokens")
	Layers []*Layer
	Norm   *tensor.Dense // the final RMSNorm weight [hidden]
	// LMHead projects to the vocabulary [vocab, hidden]; with tied
	// embeddings it is Embed itself unless it was quantized separately.
	LMHead *Linear

	engine *nf4.Engine
	rope   *rope
}

// Engine returns the engine the model runs its NF4 products on.
func (m *Model) Engine() *nf4.Engine { return m.engine }

// SetEngine changes the engine (nil: a CPU engine).
func (m *Model) SetEngine(e *nf4.Engine) error {
	if e == nil {
		var err error
		if e, err = nf4.NewEngine(); err != nil {
			return err
		}
	}
	m.engine = e
	return nil
}

// Linears returns every projection of every layer, then lm_head when it is
// not the embedding.
func (m *Model) Linears() []*Linear {
	var ls []*Linear
	for _, l := range m.Layers {
		ls = append(ls, l.Linears()...)
	}
	if m.LMHead != m.Embed {
		ls = append(ls, m.LMHead)
	}
	return ls
}

// Module returns the projection with the given module name.
func (m *Model) Module(name string) *Linear {
	for _, l := range m.Linears() {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// Memory reports the bytes the weights take as stored, and what the same
// weights take in float32.
func (m *Model) Memory() (stored, float32Bytes int) {
	seen := map[*Linear]bool{}
	add := func(l *Linear) {
		if l == nil || seen[l] {
			return
		}
		seen[l] = true
		stored += l.Bytes()
		float32Bytes += 4 * l.Out * l.In
		if l.Bias != nil {
			stored += 4 * len(l.Bias)
			float32Bytes += 4 * len(l.Bias)
		}
	}
	add(m.Embed)
	for _, l := range m.Layers {
		for _, p := range l.Linears() {
			add(p)
		}
		n := 8 * m.Config.HiddenSize
		stored += n
		float32Bytes += n
	}
	add(m.LMHead)
	stored += 4 * m.Config.HiddenSize
	float32Bytes += 4 * m.Config.HiddenSize
	return stored, float32Bytes
}

// String summarises the model and its weight memory.
func (m *Model) String() string {
	stored, f := m.Memory()
	nf, fl := 0, 0
	for _, l := range m.Linears() {
		if l.IsNF4() {
			nf++
		} else {
			fl++
		}
	}
	return fmt.Sprintf("%v; %d NF4 and %d float linear layers, weights %s (%s in float32, %.2f× smaller)",
		m.Config, nf, fl, nf4.HumanBytes(stored), nf4.HumanBytes(f), float64(f)/float64(stored))
}

// New makes a model with random float32 weights drawn as transformers
// initialises a LlamaForCausalLM (normal, std 0.02; norms 1), reproducible
// from seed. Zero fields of cfg take transformers' defaults.
func New(cfg *Config, seed uint64) (*Model, error) {
	if cfg == nil {
		return nil, fmt.Errorf("llama: New: nil config")
	}
	c := cfg.withDefaults()
	if err := c.check("config"); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x6c6c616d61))
	normal := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(0.02 * r.NormFloat64())
		}
		return v
	}
	lin := func(name string, out, in int, bias bool) *Linear {
		l := &Linear{Name: name, Out: out, In: in,
			Float: tensor.New(tensor.WithShape(out, in), tensor.WithBacking(normal(out*in)))}
		if bias {
			l.Bias = make([]float32, out)
		}
		return l
	}
	m := &Model{Config: &c}
	d, hd := c.HiddenSize, c.HeadDim
	m.Embed = lin("model.embed_tokens", c.VocabSize, d, false)
	for i := range c.NumHiddenLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		l := &Layer{InputNorm: ones(d), PostNorm: ones(d)}
		l.Q = lin(p+"self_attn.q_proj", c.NumAttentionHeads*hd, d, c.AttentionBias)
		l.K = lin(p+"self_attn.k_proj", c.NumKeyValueHeads*hd, d, c.AttentionBias)
		l.V = lin(p+"self_attn.v_proj", c.NumKeyValueHeads*hd, d, c.AttentionBias)
		l.O = lin(p+"self_attn.o_proj", d, c.NumAttentionHeads*hd, c.AttentionBias)
		l.Gate = lin(p+"mlp.gate_proj", c.IntermediateSize, d, c.MLPBias)
		l.Up = lin(p+"mlp.up_proj", c.IntermediateSize, d, c.MLPBias)
		l.Down = lin(p+"mlp.down_proj", d, c.IntermediateSize, c.MLPBias)
		m.Layers = append(m.Layers, l)
	}
	m.Norm = ones(d)
	if c.TieWordEmbeddings {
		m.LMHead = m.Embed
	} else {
		m.LMHead = lin("lm_head", c.VocabSize, d, false)
	}
	if err := m.finish(nil); err != nil {
		return nil, err
	}
	return m, nil
}

func ones(n int) *tensor.Dense {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return tensor.New(tensor.WithShape(n), tensor.WithBacking(v))
}

// finish sets up what the weights do not hold: the engine and RoPE.
func (m *Model) finish(e *nf4.Engine) error {
	m.rope = newRope(m.Config)
	return m.SetEngine(e)
}

// QuantizeOptions controls Quantize.
type QuantizeOptions struct {
	BlockSize   int  // 0: nf4.DefaultBlockSize
	DoubleQuant bool // QLoRA's double quantization of the scales
	// LMHead quantizes lm_head too (a tied lm_head becomes an NF4 copy of
	// the embedding, which stays float); Embeddings quantizes the
	// embedding table.
	LMHead, Embeddings bool
}

func (o QuantizeOptions) nf4Options() []nf4.Option {
	opts := []nf4.Option{nf4.WithBlockSize(o.BlockSize)}
	if o.BlockSize == 0 {
		opts[0] = nf4.WithBlockSize(nf4.DefaultBlockSize)
	}
	if o.DoubleQuant {
		opts = append(opts, nf4.WithDoubleQuant())
	}
	return opts
}

// Quantize converts the float linear layers to NF4 in place (the float
// copies are dropped), as `nf4 quantize` converts a checkpoint: the same
// codes and scales.
func (m *Model) Quantize(o QuantizeOptions) error {
	opts := o.nf4Options()
	q := func(l *Linear) (*Linear, error) {
		if l.NF4 != nil || !quantizable(l, o) {
			return l, nil
		}
		w, err := nf4.QuantizeFloat32s(l.floats(), l.Out, l.In, opts...)
		if err != nil {
			return nil, fmt.Errorf("llama: quantize %s: %w", l.Name, err)
		}
		c := *l
		c.NF4, c.Float = w, nil
		return &c, nil
	}
	for _, layer := range m.Layers {
		for _, p := range []**Linear{&layer.Q, &layer.K, &layer.V, &layer.O, &layer.Gate, &layer.Up, &layer.Down} {
			n, err := q(*p)
			if err != nil {
				return err
			}
			*p = n
		}
	}
	tied := m.LMHead == m.Embed
	if o.Embeddings {
		n, err := q(m.Embed)
		if err != nil {
			return err
		}
		m.Embed = n
		if tied {
			m.LMHead = n
		}
	}
	if o.LMHead {
		head := m.LMHead
		if tied && !o.Embeddings {
			c := *head
			c.Name = "lm_head"
			head = &c
		}
		n, err := q(head)
		if err != nil {
			return err
		}
		m.LMHead = n
	}
	return nil
}

// targetsModule reports whether a module name ends in one of targets (PEFT's
// rule for a list of target_modules).
func targetsModule(name string, targets []string) bool {
	for _, t := range targets {
		if name == t || strings.HasSuffix(name, "."+t) {
			return true
		}
	}
	return false
}

// LoRAConfig sets up LoRA adapters.
type LoRAConfig struct {
	Rank    int     // r (default 8)
	Alpha   float64 // the update is scaled by Alpha/Rank (default 2·Rank)
	Dropout float64 // dropout on the adapters' input while training, in [0, 1)
	// Targets lists module names or suffixes (default q_proj and v_proj,
	// PEFT's default for Llama; AllModules for every projection).
	Targets []string
	Seed    uint64 // A's initial values (0: random)
}

func (c LoRAConfig) withDefaults() (LoRAConfig, error) {
	if c.Rank == 0 {
		c.Rank = 8
	}
	if c.Alpha == 0 {
		c.Alpha = 2 * float64(c.Rank)
	}
	if len(c.Targets) == 0 {
		c.Targets = []string{"q_proj", "v_proj"}
	}
	switch {
	case c.Rank < 0:
		return c, fmt.Errorf("llama: LoRA rank %d: want a positive rank", c.Rank)
	case math.IsNaN(c.Alpha) || math.IsInf(c.Alpha, 0):
		return c, fmt.Errorf("llama: LoRA alpha %v is not finite", c.Alpha)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return c, fmt.Errorf("llama: LoRA dropout %v: want a value in [0, 1)", c.Dropout)
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	return c, nil
}

// AddLoRA puts fresh adapters on the target modules: A as PEFT initialises
// it (uniform in ±1/√in), B zero, so the model computes what it did before.
// It returns the modules adapted.
func (m *Model) AddLoRA(cfg LoRAConfig) ([]*Linear, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(c.Seed, uint64(c.Rank)))
	var adapted []*Linear
	for _, l := range m.Linears() {
		if !targetsModule(l.Name, c.Targets) {
			continue
		}
		if c.Rank > min(l.Out, l.In) {
			return nil, fmt.Errorf("llama: LoRA rank %d is larger than %s [%d %d]", c.Rank, l.Name, l.Out, l.In)
		}
		bound := 1 / math.Sqrt(float64(l.In))
		a := make([]float32, c.Rank*l.In)
		for i := range a {
			a[i] = float32((2*r.Float64() - 1) * bound)
		}
		l.LoRA = &LoRA{Rank: c.Rank, Alpha: c.Alpha, Dropout: c.Dropout,
			A: tensor.New(tensor.WithShape(c.Rank, l.In), tensor.WithBacking(a)),
			B: tensor.New(tensor.WithShape(l.Out, c.Rank), tensor.WithBacking(make([]float32, l.Out*c.Rank)))}
		adapted = append(adapted, l)
	}
	if len(adapted) == 0 {
		return nil, fmt.Errorf("llama: LoRA targets %v match no module (want names among %v)", c.Targets, AllModules)
	}
	return adapted, nil
}

// RemoveLoRA drops every adapter.
func (m *Model) RemoveLoRA() {
	for _, l := range m.Linears() {
		l.LoRA = nil
	}
}

// Adapted returns the modules that carry adapters.
func (m *Model) Adapted() []*Linear {
	var ls []*Linear
	for _, l := range m.Linears() {
		if l.LoRA != nil {
			ls = append(ls, l)
		}
	}
	return ls
}
