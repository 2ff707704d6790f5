package llama

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Config is the part of a Hugging Face LlamaConfig (config.json) the model
// uses. Field names follow transformers.
type Config struct {
	Architectures         []string     `json:"architectures,omitempty"`
	ModelType             string       `json:"model_type"`
	VocabSize             int          `json:"vocab_size"`
	HiddenSize            int          `json:"hidden_size"`
	IntermediateSize      int          `json:"intermediate_size"`
	NumHiddenLayers       int          `json:"num_hidden_layers"`
	NumAttentionHeads     int          `json:"num_attention_heads"`
	NumKeyValueHeads      int          `json:"num_key_value_heads"`
	HeadDim               int          `json:"head_dim,omitempty"`
	MaxPositionEmbeddings int          `json:"max_position_embeddings"`
	RMSNormEps            float64      `json:"rms_norm_eps"`
	RopeTheta             float64      `json:"rope_theta"`
	RopeScaling           *RopeScaling `json:"rope_scaling"`
	HiddenAct             string       `json:"hidden_act"`
	AttentionBias         bool         `json:"attention_bias"`
	MLPBias               bool         `json:"mlp_bias"`
	TieWordEmbeddings     bool         `json:"tie_word_embeddings"`
	BOSTokenID            TokenIDs     `json:"bos_token_id,omitempty"`
	EOSTokenID            TokenIDs     `json:"eos_token_id,omitempty"`
	PadTokenID            TokenIDs     `json:"pad_token_id,omitempty"`
	TorchDtype            string       `json:"torch_dtype,omitempty"`
}

// RopeScaling is config.json's "rope_scaling": "default", "linear" (positions
// divided by Factor) or "llama3" (Llama 3.1's frequency-dependent scaling).
type RopeScaling struct {
	RopeType                      string  `json:"rope_type"`
	Factor                        float64 `json:"factor"`
	LowFreqFactor                 float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor                float64 `json:"high_freq_factor,omitempty"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings,omitempty"`
}

// TokenIDs holds a config's token id field, which may be absent, null, a
// number or a list of numbers (Llama 3 lists several EOS ids).
type TokenIDs []int

// UnmarshalJSON accepts null, a number or a list of numbers.
func (t *TokenIDs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*t = nil
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		var ids []int
		if err := json.Unmarshal(b, &ids); err != nil {
			return err
		}
		*t = ids
		return nil
	}
	var id int
	if err := json.Unmarshal(b, &id); err != nil {
		return fmt.Errorf("want a token id or a list of them, have %s", b)
	}
	*t = TokenIDs{id}
	return nil
}

// MarshalJSON writes one id as a number, several as a list, none as null.
func (t TokenIDs) MarshalJSON() ([]byte, error) {
	switch len(t) {
	case 0:
		return []byte("null"), nil
	case 1:
		return json.Marshal(t[0])
	}
	return json.Marshal([]int(t))
}

// ConfigError is a config.json that cannot describe a Llama model: it names
// the file and the key.
type ConfigError struct {
	File string
	Key  string
	Err  error
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("llama: %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("llama: %s: %q: %v", e.File, e.Key, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads dir/config.json (or the file path itself).
func LoadConfig(path string) (*Config, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig decodes and checks a config.json; name is used in errors.
// Keys a Llama config must have are required; the others take
// transformers' defaults.
func ParseConfig(name string, data []byte) (*Config, error) {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{File: name, Key: key, Err: fmt.Errorf(format, args...)}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, &ConfigError{File: name, Err: fmt.Errorf("not a JSON object: %v", err)}
	}
	if raw == nil {
		return nil, &ConfigError{File: name, Err: errors.New("not a JSON object")}
	}
	for _, k := range []string{"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"} {
		if _, ok := raw[k]; !ok {
			return nil, bad(k, "missing: a Llama config needs vocab_size, hidden_size, intermediate_size, num_hidden_layers and num_attention_heads")
		}
	}
	c := &Config{}
	*c = c.withDefaults()
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, bad(te.Field, "has a %s, want a %v", te.Value, te.Type)
		}
		return nil, &ConfigError{File: name, Err: err}
	}
	if err := c.check(name); err != nil {
		return nil, err
	}
	return c, nil
}

// withDefaults returns a copy with zero fields set as transformers'
// LlamaConfig sets them.
func (c *Config) withDefaults() Config {
	d := *c
	if d.ModelType == "" {
		d.ModelType = "llama"
	}
	if d.MaxPositionEmbeddings == 0 {
		d.MaxPositionEmbeddings = 2048
	}
	if d.RMSNormEps == 0 {
		d.RMSNormEps = 1e-6
	}
	if d.RopeTheta == 0 {
		d.RopeTheta = 10000
	}
	if d.HiddenAct == "" {
		d.HiddenAct = "silu"
	}
	return d
}

// check validates a config; file names it in errors.
func (c *Config) check(file string) error {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{File: file, Key: key, Err: fmt.Errorf(format, args...)}
	}
	arch := ""
	if len(c.Architectures) > 0 {
		arch = c.Architectures[0]
	}
	switch {
	case c.ModelType != "" && c.ModelType != "llama":
		return bad("model_type", "%q is not supported: want \"llama\"", c.ModelType)
	case len(c.Architectures) > 1 || arch != "" && arch != "LlamaForCausalLM":
		return bad("architectures", "%v is not supported: want [\"LlamaForCausalLM\"]", c.Architectures)
	}
	pos := []struct {
		key string
		v   int
	}{{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"max_position_embeddings", c.MaxPositionEmbeddings}}
	for _, p := range pos {
		if p.v <= 0 || p.v > 1<<24 {
			return bad(p.key, "%d: want a positive size", p.v)
		}
	}
	if c.NumKeyValueHeads == 0 {
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	if c.HeadDim == 0 {
		if c.HiddenSize%c.NumAttentionHeads != 0 {
			return bad("hidden_size", "%d is not a multiple of num_attention_heads %d (and there is no head_dim)", c.HiddenSize, c.NumAttentionHeads)
		}
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	switch {
	case c.NumKeyValueHeads < 0 || c.NumAttentionHeads%c.NumKeyValueHeads != 0:
		return bad("num_key_value_heads", "%d does not divide num_attention_heads %d", c.NumKeyValueHeads, c.NumAttentionHeads)
	case c.HeadDim < 2 || c.HeadDim%2 != 0:
		return bad("head_dim", "%d: rotary embedding needs an even head size", c.HeadDim)
	case !(c.RMSNormEps > 0) || math.IsInf(c.RMSNormEps, 0):
		return bad("rms_norm_eps", "%v: want a positive number", c.RMSNormEps)
	case !(c.RopeTheta > 1) || math.IsInf(c.RopeTheta, 0):
		return bad("rope_theta", "%v: want a number above 1", c.RopeTheta)
	case c.HiddenAct != "silu":
		return bad("hidden_act", "%q is not supported: want \"silu\"", c.HiddenAct)
	}
	for _, ids := range []struct {
		key string
		ids TokenIDs
	}{{"bos_token_id", c.BOSTokenID}, {"eos_token_id", c.EOSTokenID}, {"pad_token_id", c.PadTokenID}} {
		for _, id := range ids.ids {
			if id < 0 || id >= c.VocabSize {
				return bad(ids.key, "%d is outside the vocabulary (size %d)", id, c.VocabSize)
			}
		}
	}
	if c.RopeScaling != nil {
		if err := c.RopeScaling.check(file); err != nil {
			return err
		}
	}
	return nil
}

func (r *RopeScaling) check(file string) error {
	bad := func(format string, args ...any) error {
		return &ConfigError{File: file, Key: "rope_scaling", Err: fmt.Errorf(format, args...)}
	}
	t := strings.ToLower(r.RopeType)
	switch t {
	case "", "default":
		r.RopeType = "default"
		return nil
	case "linear":
		if !(r.Factor > 0) || math.IsInf(r.Factor, 0) {
			return bad("linear factor %v: want a positive number", r.Factor)
		}
	case "llama3":
		switch {
		case !(r.Factor > 0) || math.IsInf(r.Factor, 0):
			return bad("llama3 factor %v: want a positive number", r.Factor)
		case !(r.LowFreqFactor > 0) || !(r.HighFreqFactor > r.LowFreqFactor) || math.IsInf(r.HighFreqFactor, 0):
			return bad("llama3 low_freq_factor %v and high_freq_factor %v: want 0 < low < high", r.LowFreqFactor, r.HighFreqFactor)
		case r.OriginalMaxPositionEmbeddings <= 0:
			return bad("llama3 needs original_max_position_embeddings > 0, have %d", r.OriginalMaxPositionEmbeddings)
		}
	default:
		return bad("rope_type %q is not supported: want default, linear or llama3", r.RopeType)
	}
	r.RopeType = t
	return nil
}

// UnmarshalJSON accepts transformers' older "type" key for rope_type.
func (r *RopeScaling) UnmarshalJSON(b []byte) error {
	type plain RopeScaling
	var v struct {
		plain
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = RopeScaling(v.plain)
	if r.RopeType == "" {
		r.RopeType = v.Type
	}
	return nil
}

// Heads per key/value head (grouped-query attention).
func (c *Config) groups() int { return c.NumAttentionHeads / c.NumKeyValueHeads }

// Params returns the number of parameters the config describes.
func (c *Config) Params() int {
	d, f, hd := c.HiddenSize, c.IntermediateSize, c.HeadDim
	q, kv := c.NumAttentionHeads*hd, c.NumKeyValueHeads*hd
	layer := d*q + 2*d*kv + q*d + 3*d*f + 2*d
	if c.AttentionBias {
		layer += q + 2*kv + d
	}
	if c.MLPBias {
		layer += 2*f + d
	}
	n := c.VocabSize*d + c.NumHiddenLayers*layer + d
	if !c.TieWordEmbeddings {
		n += c.VocabSize * d
	}
	return n
}

// String summarises the architecture.
func (c *Config) String() string {
	return fmt.Sprintf("Llama %d layers, hidden %d, MLP %d, %d heads (%d kv, head %d), vocab %d, context %d: %.2fM parameters",
		c.NumHiddenLayers, c.HiddenSize, c.IntermediateSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim,
		c.VocabSize, c.MaxPositionEmbeddings, float64(c.Params())/1e6)
}

// JSON renders the config as transformers writes config.json.
func (c *Config) JSON() ([]byte, error) {
	m := map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"model_type":              "llama",
		"vocab_size":              c.VocabSize,
		"hidden_size":             c.HiddenSize,
		"intermediate_size":       c.IntermediateSize,
		"num_hidden_layers":       c.NumHiddenLayers,
		"num_attention_heads":     c.NumAttentionHeads,
		"num_key_value_heads":     c.NumKeyValueHeads,
		"head_dim":                c.HeadDim,
		"max_position_embeddings": c.MaxPositionEmbeddings,
		"rms_norm_eps":            c.RMSNormEps,
		"rope_theta":              c.RopeTheta,
		"rope_scaling":            c.RopeScaling,
		"hidden_act":              c.HiddenAct,
		"attention_bias":          c.AttentionBias,
		"attention_dropout":       0.0,
		"mlp_bias":                c.MLPBias,
		"tie_word_embeddings":     c.TieWordEmbeddings,
		"initializer_range":       0.02,
		"pretraining_tp":          1,
		"use_cache":               true,
		"torch_dtype":             "float32",
		"bos_token_id":            c.BOSTokenID,
		"eos_token_id":            c.EOSTokenID,
	}
	if c.TorchDtype != "" {
		m["torch_dtype"] = c.TorchDtype
	}
	if len(c.PadTokenID) > 0 {
		m["pad_token_id"] = c.PadTokenID
	}
	b, err := json.MarshalIndent(m, "", "  ")
	return append(b, '\n'), err
}
