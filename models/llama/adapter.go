package llama

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nf4go/nf4/checkpoint"
	"gorgonia.org/tensor"
)

// Adapter returns the model's LoRA adapters in PEFT's layout (module names
// as transformers names them, e.g. "model.layers.0.self_attn.q_proj").
// base is recorded as base_model_name_or_path (may be empty).
func (m *Model) Adapter(base string) (*checkpoint.Adapter, error) {
	adapted := m.Adapted()
	if len(adapted) == 0 {
		return nil, fmt.Errorf("llama: the model has no LoRA adapters")
	}
	first := adapted[0].LoRA
	a := &checkpoint.Adapter{Rank: first.Rank, Alpha: first.Alpha, Dropout: first.Dropout, TaskType: "CAUSAL_LM", BaseModel: base}
	targets := map[string]bool{}
	for _, l := range adapted {
		if l.LoRA.Rank != first.Rank || l.LoRA.Alpha != first.Alpha {
			return nil, fmt.Errorf("llama: %s has LoRA rank %d alpha %g, %s rank %d alpha %g: one PEFT adapter has one rank and alpha",
				l.Name, l.LoRA.Rank, l.LoRA.Alpha, adapted[0].Name, first.Rank, first.Alpha)
		}
		targets[l.Name[strings.LastIndexByte(l.Name, '.')+1:]] = true
		a.Layers = append(a.Layers, checkpoint.LoRALayer{Module: l.Name, A: l.LoRA.A, B: l.LoRA.B})
	}
	for t := range targets {
		a.TargetModules = append(a.TargetModules, t)
	}
	sort.Strings(a.TargetModules)
	return a, nil
}

// SaveAdapter writes the adapters as a PEFT adapter directory
// (adapter_config.json and adapter_model.safetensors) that
// PeftModel.from_pretrained loads on the transformers model, and that
// `nf4 merge` merges into the base checkpoint.
func (m *Model) SaveAdapter(dir, base string) error {
	a, err := m.Adapter(base)
	if err != nil {
		return err
	}
	return checkpoint.SaveAdapter(dir, a)
}

// LoadAdapter puts the PEFT adapter in dir on the model, replacing any
// adapters it had. Every module the adapter names must exist with
// matching shapes.
func (m *Model) LoadAdapter(dir string) error {
	a, err := checkpoint.LoadAdapter(dir)
	if err != nil {
		return err
	}
	return m.SetAdapter(a)
}

// SetAdapter puts the adapters of a on the model, replacing any it had.
func (m *Model) SetAdapter(a *checkpoint.Adapter) error {
	byName := map[string]*Linear{}
	for _, l := range m.Linears() {
		byName[l.Name] = l
	}
	set := map[*Linear]*LoRA{}
	for _, layer := range a.Layers {
		l := byName[layer.Module]
		if l == nil {
			return fmt.Errorf("llama: adapter module %q is not a projection of this model (want e.g. %s)", layer.Module, m.Layers[0].Q.Name)
		}
		as, bs := layer.A.Shape(), layer.B.Shape()
		if len(as) != 2 || len(bs) != 2 || as[0] != a.Rank || as[1] != l.In || bs[0] != l.Out || bs[1] != a.Rank {
			return fmt.Errorf("llama: adapter module %s: lora_A %v and lora_B %v do not fit the weight [%d %d] at rank %d", layer.Module, as, bs, l.Out, l.In, a.Rank)
		}
		set[l] = &LoRA{A: float32Dense(layer.A), B: float32Dense(layer.B), Rank: a.Rank, Alpha: a.Alpha, Dropout: a.Dropout}
	}
	m.RemoveLoRA()
	for l, lo := range set {
		l.LoRA = lo
	}
	return nil
}

// float32Dense returns a contiguous float32 copy of t.
func float32Dense(t *tensor.Dense) *tensor.Dense {
	s := t.Shape()
	out := make([]float32, s.TotalSize())
	switch d := t.Materialize().(*tensor.Dense).Data().(type) {
	case []float32:
		copy(out, d)
	case []float64:
		for i, v := range d {
			out[i] = float32(v)
		}
	}
	return tensor.New(tensor.WithShape(s...), tensor.WithBacking(out))
}
