package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gorgonia.org/tensor"
)

// File names of a PEFT adapter directory.
const (
	AdapterWeightsFile = "adapter_model.safetensors"
	AdapterConfigFile  = "adapter_config.json"
	peftPrefix         = "base_model.model."
)

// Adapter is a set of LoRA adapters in the PEFT layout: for each module M
// (whose base weight is M+".weight", [out, in]), A [r, in] and B [out, r];
// the update to the weight is (Alpha/Rank)·B·A.
type Adapter struct {
	Rank          int
	Alpha         float64
	TargetModules []string // module names or suffixes, as PEFT lists them
	Layers        []LoRALayer

	// Recorded in adapter_config.json for PEFT: lora_dropout, task_type
	// (e.g. "CAUSAL_LM"; empty writes null) and base_model_name_or_path.
	Dropout   float64
	TaskType  string
	BaseModel string
}

// LoRALayer holds one module's adapters as float32 tensors.
type LoRALayer struct {
	Module string
	A, B   *tensor.Dense
}

// Scale returns Alpha/Rank, the factor on B·A.
func (a *Adapter) Scale() float64 { return a.Alpha / float64(a.Rank) }

// peftConfig is the subset of PEFT's LoraConfig written and understood.
type peftConfig struct {
	PeftType      string         `json:"peft_type"`
	R             int            `json:"r"`
	LoraAlpha     float64        `json:"lora_alpha"`
	TargetModules []string       `json:"target_modules"`
	LoraDropout   float64        `json:"lora_dropout"`
	Bias          string         `json:"bias"`
	FanInFanOut   bool           `json:"fan_in_fan_out"`
	UseRSLoRA     bool           `json:"use_rslora"`
	UseDoRA       bool           `json:"use_dora"`
	InferenceMode bool           `json:"inference_mode"`
	TaskType      *string        `json:"task_type"`
	BaseModel     *string        `json:"base_model_name_or_path"`
	RankPattern   map[string]any `json:"rank_pattern"`
	AlphaPattern  map[string]any `json:"alpha_pattern"`
}

// check validates a layer's shapes against the adapter's rank.
func (l *LoRALayer) check(file string, rank int) (out, in int, err error) {
	if l.A == nil || l.B == nil {
		return 0, 0, tensorErr(file, l.Module, "needs both lora_A and lora_B")
	}
	as, bs := l.A.Shape(), l.B.Shape()
	switch {
	case len(as) != 2 || len(bs) != 2:
		return 0, 0, tensorErr(file, l.Module, "lora_A %v and lora_B %v must be 2-D", as, bs)
	case as[0] != rank || bs[1] != rank:
		return 0, 0, tensorErr(file, l.Module, "lora_A %v and lora_B %v do not have rank %d ([r, in] and [out, r])", as, bs, rank)
	}
	for _, t := range []*tensor.Dense{l.A, l.B} {
		if t.Dtype() != tensor.Float32 && t.Dtype() != tensor.Float64 {
			return 0, 0, tensorErr(file, l.Module, "dtype %v: want float32 or float64", t.Dtype())
		}
	}
	return bs[0], as[1], nil
}

// SaveAdapter writes a PEFT adapter directory: adapter_model.safetensors
// (F32 weights named base_model.model.<module>.lora_A.weight / lora_B.weight)
// and adapter_config.json. Each file is written atomically.
func SaveAdapter(dir string, a *Adapter) error {
	if a == nil || a.Rank <= 0 || math.IsNaN(a.Alpha) || math.IsInf(a.Alpha, 0) || a.Alpha == 0 {
		return fileErr(dir, "adapter needs a positive rank and a finite, non-zero alpha")
	}
	if !(a.Dropout >= 0 && a.Dropout < 1) {
		return fileErr(dir, "lora_dropout %v: want a value in [0, 1)", a.Dropout)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	weights := filepath.Join(dir, AdapterWeightsFile)
	var es []Entry
	targets := a.TargetModules
	for i := range a.Layers {
		l := &a.Layers[i]
		if l.Module == "" {
			return fileErr(weights, "layer %d: the module needs a name", i)
		}
		if _, _, err := l.check(weights, a.Rank); err != nil {
			return err
		}
		for _, p := range []struct {
			kind string
			t    *tensor.Dense
		}{{"lora_A", l.A}, {"lora_B", l.B}} {
			name := peftPrefix + l.Module + "." + p.kind + ".weight"
			v := denseFloat32s(p.t)
			// What LoadAdapter refuses is never written.
			if j := firstNonFinite(v); j >= 0 {
				cols := p.t.Shape()[1]
				return tensorErr(weights, name, "value %v at row %d, column %d is not finite (or beyond float32's range)", v[j], j/cols, j%cols)
			}
			es = append(es, Entry{Name: name, DType: F32, Shape: append([]int(nil), p.t.Shape()...), Data: EncodeFloats(nil, v, F32)})
		}
		if a.TargetModules == nil {
			targets = append(targets, lastPart(l.Module))
		}
	}
	sort.Strings(targets)
	targets = compact(targets)
	if err := WriteFile(context.Background(), weights, map[string]string{"format": "pt"}, es, nil); err != nil {
		return err
	}
	cfg := peftConfig{PeftType: "LORA", R: a.Rank, LoraAlpha: a.Alpha, TargetModules: targets, Bias: "none",
		LoraDropout: a.Dropout, InferenceMode: true, RankPattern: map[string]any{}, AlphaPattern: map[string]any{}}
	if a.TaskType != "" {
		cfg.TaskType = &a.TaskType
	}
	if a.BaseModel != "" {
		cfg.BaseModel = &a.BaseModel
	}
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, AdapterConfigFile), append(js, '\n'))
}

// LoadAdapter reads a PEFT LoRA adapter directory.
func LoadAdapter(dir string) (*Adapter, error) {
	a, _, err := loadAdapter(dir)
	return a, err
}

// loadAdapter reads an adapter directory and returns the files it read.
func loadAdapter(dir string) (*Adapter, inputFiles, error) {
	cfgPath := filepath.Join(dir, AdapterConfigFile)
	js, st, err := readInput(cfgPath, maxSideFile)
	if err != nil {
		return nil, nil, err
	}
	var cfg peftConfig
	if err := json.Unmarshal(js, &cfg); err != nil {
		return nil, nil, fileErr(cfgPath, "malformed JSON: %v", err)
	}
	switch {
	case cfg.PeftType != "" && cfg.PeftType != "LORA":
		return nil, nil, fileErr(cfgPath, "peft_type %q not supported: want LORA", cfg.PeftType)
	case cfg.R <= 0:
		return nil, nil, fileErr(cfgPath, "r = %d: want a positive rank", cfg.R)
	case math.IsNaN(cfg.LoraAlpha) || math.IsInf(cfg.LoraAlpha, 0) || cfg.LoraAlpha == 0:
		return nil, nil, fileErr(cfgPath, "lora_alpha %v: want a finite, non-zero value", cfg.LoraAlpha)
	case cfg.UseRSLoRA || cfg.UseDoRA || len(cfg.RankPattern) > 0 || len(cfg.AlphaPattern) > 0 || cfg.FanInFanOut:
		return nil, nil, fileErr(cfgPath, "use_rslora, use_dora, fan_in_fan_out, rank_pattern and alpha_pattern are not supported")
	}
	if !(cfg.LoraDropout >= 0 && cfg.LoraDropout < 1) {
		return nil, nil, fileErr(cfgPath, "lora_dropout %v: want a value in [0, 1)", cfg.LoraDropout)
	}
	a := &Adapter{Rank: cfg.R, Alpha: cfg.LoraAlpha, TargetModules: cfg.TargetModules, Dropout: cfg.LoraDropout}
	if cfg.TaskType != nil {
		a.TaskType = *cfg.TaskType
	}
	if cfg.BaseModel != nil {
		a.BaseModel = *cfg.BaseModel
	}
	path := filepath.Join(dir, AdapterWeightsFile)
	c, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	files := append(inputFiles{{cfgPath, st}}, c.inputs...)
	byModule := map[string]*LoRALayer{}
	var order []string
	for _, t := range c.infos {
		rest, ok := strings.CutPrefix(t.Name, peftPrefix)
		var module, kind string
		if ok {
			for _, k := range []string{".lora_A.weight", ".lora_B.weight"} {
				if m, found := strings.CutSuffix(rest, k); found {
					module, kind = m, k[1:7]
				}
			}
		}
		if module == "" {
			return nil, nil, tensorErr(path, t.Name, "not a LoRA weight (want %s<module>.lora_A.weight or .lora_B.weight)", peftPrefix)
		}
		if !t.DType.IsFloat() {
			return nil, nil, tensorErr(path, t.Name, "dtype %s is not a float type", t.DType)
		}
		d, err := c.Dense(t.Name)
		if err != nil {
			return nil, nil, err
		}
		if d.Dtype() == tensor.Float64 {
			d = tensor.New(tensor.WithShape(d.Shape()...), tensor.WithBacking(denseFloat32s(d)))
		}
		if i := firstNonFinite(d.Data().([]float32)); i >= 0 {
			cols := d.Shape()[len(d.Shape())-1]
			return nil, nil, tensorErr(path, t.Name, "value %v at row %d, column %d is not finite (or beyond float32's range): the merged weight would be too",
				d.Data().([]float32)[i], i/cols, i%cols)
		}
		l := byModule[module]
		if l == nil {
			l = &LoRALayer{Module: module}
			byModule[module] = l
			order = append(order, module)
		}
		if kind == "lora_A" {
			l.A = d
		} else {
			l.B = d
		}
	}
	for _, m := range order {
		l := byModule[m]
		if _, _, err := l.check(path, a.Rank); err != nil {
			return nil, nil, err
		}
		a.Layers = append(a.Layers, *l)
	}
	return a, files, nil
}

// denseFloat32s returns the values of a float32 or float64 tensor as float32.
func denseFloat32s(t *tensor.Dense) []float32 {
	if t.IsMaterializable() {
		t = t.Materialize().(*tensor.Dense)
	}
	switch d := t.Data().(type) {
	case []float32:
		return d
	case []float64:
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = float32(v)
		}
		return out
	}
	return nil
}

func lastPart(module string) string { return module[strings.LastIndexByte(module, '.')+1:] }

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// String summarises the adapter.
func (a *Adapter) String() string {
	return fmt.Sprintf("LoRA r=%d alpha=%g on %d modules", a.Rank, a.Alpha, len(a.Layers))
}
