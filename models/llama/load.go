package llama

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/checkpoint"
	"github.com/nf4go/nf4/cpu"
	"gorgonia.org/tensor"
)

// Weight file names of a Hugging Face folder.
const (
	WeightsFile = "model.safetensors"
	IndexFile   = "model.safetensors.index.json"
)

// LoadOptions controls Load.
type LoadOptions struct {
	Engine *nf4.Engine // nil: a CPU engine
	// Float keeps float linear weights in float32 (and dequantizes NF4
	// ones): the model then computes what transformers computes in float32.
	// Otherwise float weights are quantized as Quantize says.
	Float    bool
	Quantize QuantizeOptions
}

// Load reads a Hugging Face Llama folder: config.json and model.safetensors
// or a sharded model.safetensors.index.json. Weights may be float (F32,
// F16, BF16) or NF4 in the bitsandbytes layout; every error names the file
// and the tensor.
func Load(dir string, o LoadOptions) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	path, err := weightsPath(dir)
	if err != nil {
		return nil, err
	}
	c, err := checkpoint.Open(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	m, err := FromCheckpoint(cfg, c, o)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func weightsPath(dir string) (string, error) {
	for _, f := range []string{WeightsFile, IndexFile} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("llama: %s: no %s or %s", dir, WeightsFile, IndexFile)
}

// FromCheckpoint builds a model of the given config from an open
// checkpoint, reading every tensor it needs (the checkpoint may be closed
// afterwards) and checking each shape against the config.
func FromCheckpoint(cfg *Config, c *checkpoint.Checkpoint, o LoadOptions) (*Model, error) {
	cc := *cfg
	if err := cc.check(c.Path); err != nil {
		return nil, err
	}
	cfg = &cc
	r := &reader{c: c, o: o}
	m := &Model{Config: cfg}
	d, hd := cfg.HiddenSize, cfg.HeadDim
	q, kv := cfg.NumAttentionHeads*hd, cfg.NumKeyValueHeads*hd
	m.Embed = r.linear("model.embed_tokens", cfg.VocabSize, d, false, o.Quantize.Embeddings)
	for i := range cfg.NumHiddenLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		l := &Layer{InputNorm: r.vector(p+"input_layernorm.weight", d), PostNorm: r.vector(p+"post_attention_layernorm.weight", d)}
		ab, mb := cfg.AttentionBias, cfg.MLPBias
		l.Q = r.linear(p+"self_attn.q_proj", q, d, ab, true)
		l.K = r.linear(p+"self_attn.k_proj", kv, d, ab, true)
		l.V = r.linear(p+"self_attn.v_proj", kv, d, ab, true)
		l.O = r.linear(p+"self_attn.o_proj", d, q, ab, true)
		l.Gate = r.linear(p+"mlp.gate_proj", cfg.IntermediateSize, d, mb, true)
		l.Up = r.linear(p+"mlp.up_proj", cfg.IntermediateSize, d, mb, true)
		l.Down = r.linear(p+"mlp.down_proj", d, cfg.IntermediateSize, mb, true)
		m.Layers = append(m.Layers, l)
	}
	m.Norm = r.vector("model.norm.weight", d)
	switch {
	case c.Has("lm_head.weight"):
		m.LMHead = r.linear("lm_head", cfg.VocabSize, d, false, o.Quantize.LMHead)
	case cfg.TieWordEmbeddings:
		m.LMHead = m.Embed
		if o.Quantize.LMHead && !m.Embed.IsNF4() && !o.Float {
			m.LMHead = r.quantized(&Linear{Name: "lm_head", Out: m.Embed.Out, In: d, Float: m.Embed.Float})
		}
	default:
		r.fail(weightErr(c.Path, "lm_head.weight", "missing, and tie_word_embeddings is false"))
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := m.finish(o.Engine); err != nil {
		return nil, err
	}
	return m, nil
}

// reader reads tensors, keeping the first error.
type reader struct {
	c   *checkpoint.Checkpoint
	o   LoadOptions
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) where(name string) string {
	if t, ok := r.c.Info(name); ok {
		return t.File
	}
	return r.c.Path
}

// vector reads a 1-D float tensor of n values.
func (r *reader) vector(name string, n int) *tensor.Dense {
	if r.err != nil {
		return nil
	}
	if !r.c.Has(name) {
		r.fail(weightErr(r.c.Path, name, "missing"))
		return nil
	}
	v, t, err := r.c.Float32s(name)
	if err != nil {
		r.fail(err)
		return nil
	}
	if len(t.Shape) != 1 || t.Shape[0] != n {
		r.fail(weightErr(t.File, name, "shape %v, want [%d] for the config", t.Shape, n))
		return nil
	}
	return tensor.New(tensor.WithShape(n), tensor.WithBacking(v))
}

// linear reads module name's weight [out, in] (and bias), quantizing a float
// weight when quantize is set and the options do not keep floats.
func (r *reader) linear(module string, out, in int, bias, quantize bool) *Linear {
	if r.err != nil {
		return nil
	}
	name := module + ".weight"
	l := &Linear{Name: module, Out: out, In: in}
	switch {
	case r.c.IsNF4(name):
		w, _, err := r.c.NF4(name)
		if err != nil {
			r.fail(err)
			return nil
		}
		if w.Rows() != out || w.Cols() != in {
			r.fail(weightErr(r.where(name), name, "NF4 shape [%d %d], want [%d %d] for the config", w.Rows(), w.Cols(), out, in))
			return nil
		}
		if r.o.Float {
			d, err := w.Dequantize()
			if err != nil {
				r.fail(fmt.Errorf("llama: %s: %w", name, err))
				return nil
			}
			l.Float = d
		} else {
			l.NF4 = w
		}
	case r.c.Has(name):
		v, t, err := r.c.Float32s(name)
		if err != nil {
			r.fail(err)
			return nil
		}
		if len(t.Shape) != 2 || t.Shape[0] != out || t.Shape[1] != in {
			r.fail(weightErr(t.File, name, "shape %v, want [%d %d] for the config", t.Shape, out, in))
			return nil
		}
		l.Float = tensor.New(tensor.WithShape(out, in), tensor.WithBacking(v))
		if quantize && !r.o.Float {
			l = r.quantized(l)
		}
	default:
		r.fail(weightErr(r.c.Path, name, "missing"))
		return nil
	}
	if bias && l != nil {
		if b := r.vector(module+".bias", out); b != nil {
			l.Bias = b.Data().([]float32)
		}
	}
	return l
}

func (r *reader) quantized(l *Linear) *Linear {
	if r.err != nil || l == nil || !quantizable(l, r.o.Quantize) {
		return l
	}
	w, err := nf4.QuantizeFloat32s(l.floats(), l.Out, l.In, r.o.Quantize.nf4Options()...)
	if err != nil {
		r.fail(weightErr(r.c.Path, l.Name+".weight", "quantize: %v", err))
		return nil
	}
	c := *l
	c.NF4, c.Float = w, nil
	return &c
}

// Save writes the model as a Hugging Face folder: config.json and
// model.safetensors, float weights as F32 and NF4 ones in the bitsandbytes
// layout (with the quantization_config transformers needs). Files are
// written atomically.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var es []checkpoint.Entry
	vec := func(name string, v []float32) {
		es = append(es, checkpoint.Entry{Name: name, DType: checkpoint.F32, Shape: []int{len(v)}, Data: checkpoint.EncodeFloats(nil, v, checkpoint.F32)})
	}
	var nf4Names []string
	var err error
	lin := func(l *Linear) {
		name := l.Name + ".weight"
		if l.NF4 != nil {
			ne, e := checkpoint.NF4Entries(name, l.NF4, checkpoint.F32)
			if e != nil && err == nil {
				err = e
			}
			es = append(es, ne...)
			nf4Names = append(nf4Names, l.Name)
		} else {
			es = append(es, checkpoint.Entry{Name: name, DType: checkpoint.F32, Shape: []int{l.Out, l.In},
				Data: checkpoint.EncodeFloats(nil, l.floats(), checkpoint.F32)})
		}
		if l.Bias != nil {
			vec(l.Name+".bias", l.Bias)
		}
	}
	lin(m.Embed)
	for i, l := range m.Layers {
		p := fmt.Sprintf("model.layers.%d.", i)
		vec(p+"input_layernorm.weight", l.InputNorm.Data().([]float32))
		vec(p+"post_attention_layernorm.weight", l.PostNorm.Data().([]float32))
		for _, p := range l.Linears() {
			lin(p)
		}
	}
	vec("model.norm.weight", m.Norm.Data().([]float32))
	cfg := *m.Config
	cfg.TieWordEmbeddings = m.LMHead == m.Embed
	if !cfg.TieWordEmbeddings {
		lin(m.LMHead)
	}
	if err != nil {
		return err
	}
	path := filepath.Join(dir, WeightsFile)
	if err := checkpoint.WriteFile(context.Background(), path, map[string]string{"format": "pt"}, es, nil); err != nil {
		return err
	}
	js, err := cfg.JSON()
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "config.json")
	if err := checkpoint.WriteFileAtomic(cfgPath, js); err != nil {
		return err
	}
	if len(nf4Names) == 0 {
		return nil
	}
	rep := &checkpoint.Report{}
	for _, l := range append(m.Linears(), m.Embed) {
		s := &checkpoint.Step{Name: l.Name + ".weight", Shape: []int{l.Out, l.In}, Orig: checkpoint.F32, To: "F32"}
		if l.NF4 != nil {
			s.To = fmt.Sprintf("%s/%d", strings.ToUpper(l.NF4.QuantType().String()), l.NF4.BlockSize())
			if l.NF4.DoubleQuant() {
				s.To += "+DQ"
			}
		}
		rep.Steps = append(rep.Steps, s)
	}
	return checkpoint.WriteModelConfig(cfgPath, cfgPath, checkpoint.QuantizationConfig(rep))
}

// quantizable reports whether a weight's shape fits the block size; one
// that does not stays float, as `nf4 quantize` leaves it.
func quantizable(l *Linear, o QuantizeOptions) bool {
	bs := o.BlockSize
	if bs == 0 {
		bs = nf4.DefaultBlockSize
	}
	return cpu.CheckShape(l.Out, l.In, bs) == nil
}

// weightErr is a checkpoint error naming the file and tensor.
func weightErr(file, name, format string, args ...any) error {
	return &checkpoint.Error{File: file, Tensor: name, Err: fmt.Errorf(format, args...)}
}
