package llama

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4/checkpoint"
)

const goodConfig = `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 97,
 "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 2, "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 500000,
 "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
 "original_max_position_embeddings": 16}, "bos_token_id": 1, "eos_token_id": [2, 3], "tie_word_embeddings": false}`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("config.json", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.HeadDim != 16 || c.groups() != 2 || len(c.EOSTokenID) != 2 || c.RopeScaling.RopeType != "llama3" || c.HiddenAct != "silu" {
		t.Errorf("parsed %+v", c)
	}
	// transformers' older spelling of rope_type, and defaults
	old, err := ParseConfig("c", []byte(`{"vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
		"num_attention_heads": 2, "rope_scaling": {"type": "linear", "factor": 2}}`))
	if err != nil {
		t.Fatal(err)
	}
	if old.RopeScaling.RopeType != "linear" || old.NumKeyValueHeads != 2 || old.RopeTheta != 10000 || old.MaxPositionEmbeddings != 2048 {
		t.Errorf("defaults: %+v", old)
	}
	js, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseConfig("round trip", js)
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != c.String() || back.RopeScaling.Factor != 8 || len(back.EOSTokenID) != 2 {
		t.Errorf("round trip: %v, want %v", back, c)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct{ edit, key, want string }{
		{`"architectures": ["LlamaForCausalLM"]`, "architectures", `["MistralForCausalLM"]`},
		{`"model_type": "llama"`, "model_type", `"gpt2"`},
		{`"vocab_size": 97,`, "vocab_size", "missing"},
		{`"hidden_size": 64`, "hidden_size", `"sixty"`},
		{`"num_key_value_heads": 2`, "num_key_value_heads", "3"},
		{`"rope_type": "llama3"`, "rope_scaling", `"yarn"`},
		{`"high_freq_factor": 4.0`, "rope_scaling", "0.5"},
		{`"eos_token_id": [2, 3]`, "eos_token_id", "[2, 300]"},
		{`"rms_norm_eps": 1e-5`, "rms_norm_eps", "-1"},
		{`"max_position_embeddings": 64`, "max_position_embeddings", "0"},
	}
	for _, c := range cases {
		var js string
		switch c.want {
		case "missing":
			js = strings.Replace(goodConfig, c.edit, "", 1)
		default:
			k, _, _ := strings.Cut(c.edit, ":")
			js = strings.Replace(goodConfig, c.edit, k+": "+c.want, 1)
		}
		if js == goodConfig {
			t.Fatalf("edit %q did not apply", c.edit)
		}
		_, err := ParseConfig("config.json", []byte(js))
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.key) || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s = %s: error %v, want a ConfigError naming config.json and %q", c.key, c.want, err, c.key)
		}
	}
	for _, js := range []string{"", "[]", "null", "{", `{"vocab_size": 1}`} {
		if _, err := ParseConfig("c", []byte(js)); err == nil {
			t.Errorf("ParseConfig(%q): no error", js)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte(`{"vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz", data)
		if err != nil {
			return
		}
		if c.HeadDim <= 0 || c.NumAttentionHeads%c.NumKeyValueHeads != 0 || c.HeadDim%2 != 0 {
			t.Fatalf("accepted an unusable config %+v", c)
		}
		_ = newRope(c) // must not panic
	})
}

// Folders whose weights do not fit their config fail with errors naming
// the file and the tensor.
func TestLoadErrors(t *testing.T) {
	m := tinyModel(t, false, false, 1)
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := m.Save(good); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(good, LoadOptions{}); err != nil {
		t.Fatalf("the saved model does not load: %v", err)
	}
	c, err := checkpoint.Open(filepath.Join(good, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// rewrite: one tensor dropped, or one reshaped
	rewrite := func(name string, drop bool) string {
		d := filepath.Join(dir, strings.ReplaceAll(name, ".", "_")+map[bool]string{true: "-drop", false: "-shape"}[drop])
		os.MkdirAll(d, 0o755)
		var es []checkpoint.Entry
		for _, ti := range c.Tensors() {
			b, info, _ := c.Raw(ti.Name)
			e := checkpoint.Entry{Name: ti.Name, DType: info.DType, Shape: info.Shape, Data: b}
			if ti.Name == name {
				if drop {
					continue
				}
				e.Shape = []int{info.Shape[1], info.Shape[0]}
			}
			es = append(es, e)
		}
		if err := checkpoint.WriteFile(context.Background(), filepath.Join(d, WeightsFile), nil, es, nil); err != nil {
			t.Fatal(err)
		}
		cfg, _ := os.ReadFile(filepath.Join(good, "config.json"))
		os.WriteFile(filepath.Join(d, "config.json"), cfg, 0o644)
		return d
	}
	for _, tc := range []struct {
		name string
		drop bool
		want string
	}{
		{"model.layers.1.mlp.down_proj.weight", true, "missing"},
		{"lm_head.weight", true, "tie_word_embeddings is false"},
		{"model.layers.0.self_attn.k_proj.weight", false, "want [32 64]"},
		{"model.norm.weight", true, "missing"},
	} {
		_, err := Load(rewrite(tc.name, tc.drop), LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s (drop %v): error %v, want one naming it and saying %q", tc.name, tc.drop, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "nowhere"), LoadOptions{}); err == nil {
		t.Error("a missing folder: no error")
	}
	// a config of another architecture
	bad := filepath.Join(dir, "gpt2")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 5, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2}`), 0o644)
	if _, err := Load(bad, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "gpt2") {
		t.Errorf("GPT-2 config: %v", err)
	}
}
