package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const modelConfig = `{
  "architectures": ["LlamaForCausalLM"],
  "hidden_size": 64,
  "rms_norm_eps": 1e-05,
  "torch_dtype": "bfloat16"
}
`

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// A quantized model in a new folder gets the config transformers needs to
// load it in 4 bits; dequantizing it again takes the setting away; the
// input's config.json is never touched.
func TestConfigFollowsTheWeights(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	inCfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(inCfg, []byte(modelConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "nf4")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(outDir, "model.safetensors")
	if _, stderr, code := nf4cmd(t, "quantize", "--double-quant", "--quiet", in, out); code != 0 {
		t.Fatalf("quantize exited %d: %s", code, stderr)
	}
	cfg := readJSON(t, filepath.Join(outDir, "config.json"))
	if cfg["hidden_size"] != 64.0 || cfg["torch_dtype"] != "bfloat16" || cfg["rms_norm_eps"] != 1e-05 {
		t.Errorf("model settings not kept: %v", cfg)
	}
	qc, ok := cfg["quantization_config"].(map[string]any)
	if !ok {
		t.Fatalf("no quantization_config in %v", cfg)
	}
	want := map[string]any{
		"quant_method": "bitsandbytes", "load_in_4bit": true, "load_in_8bit": false,
		"bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true,
		"bnb_4bit_compute_dtype": "bfloat16", "bnb_4bit_quant_storage": "uint8",
		"llm_int8_skip_modules": []any{"lm_head", "model.embed_tokens"},
	}
	for k, v := range want {
		if !reflect.DeepEqual(qc[k], v) {
			t.Errorf("quantization_config[%q] = %v, want %v", k, qc[k], v)
		}
	}
	if b, _ := os.ReadFile(inCfg); string(b) != modelConfig {
		t.Errorf("the input's config.json changed:\n%s", b)
	}

	back := filepath.Join(dir, "f16")
	if err := os.Mkdir(back, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := nf4cmd(t, "dequantize", "--quiet", out, filepath.Join(back, "model.safetensors")); code != 0 {
		t.Fatalf("dequantize exited %d: %s", code, stderr)
	}
	cfg = readJSON(t, filepath.Join(back, "config.json"))
	if _, ok := cfg["quantization_config"]; ok || cfg["hidden_size"] != 64.0 {
		t.Errorf("dequantized model's config: %v", cfg)
	}
}

func TestConfigBesideTheInputIsLeftAlone(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	inCfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(inCfg, []byte(modelConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := nf4cmd(t, "quantize", in, filepath.Join(dir, "model-nf4.safetensors"))
	if code != 0 {
		t.Fatalf("quantize exited %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "left alone") {
		t.Errorf("no word about config.json in:\n%s", stdout)
	}
	if b, _ := os.ReadFile(inCfg); string(b) != modelConfig {
		t.Errorf("the input's config.json changed:\n%s", b)
	}

	// OUT's folder holds a link to the input's config.json: left alone
	// too, and the note says why.
	linked := filepath.Join(dir, "linked")
	os.Mkdir(linked, 0o755)
	os.Symlink(inCfg, filepath.Join(linked, "config.json"))
	stdout, stderr, code = nf4cmd(t, "quantize", in, filepath.Join(linked, "model-nf4.safetensors"))
	if code != 0 || !strings.Contains(stdout, filepath.Join(linked, "config.json")+" is the input's config.json") || strings.Contains(stdout, "OUT is in the input's folder") {
		t.Errorf("OUT's folder links to the input's config.json: exit %d, %q %q", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(inCfg); string(b) != modelConfig {
		t.Errorf("the input's config.json changed through a link:\n%s", b)
	}

	// --config names where to write; --no-config writes nothing.
	named := filepath.Join(dir, "nf4-config.json")
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", "--config", named, in, filepath.Join(dir, "b.safetensors")); code != 0 {
		t.Fatalf("quantize --config exited %d: %s", code, stderr)
	}
	if _, ok := readJSON(t, named)["quantization_config"]; !ok {
		t.Errorf("%s has no quantization_config", named)
	}
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", "--no-config", in, filepath.Join(other, "m.safetensors")); code != 0 {
		t.Fatalf("quantize --no-config exited %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(other, "config.json")); err == nil {
		t.Error("--no-config wrote a config.json")
	}
	if _, _, code := nf4cmd(t, "quantize", "--no-config", "--config", named, in, filepath.Join(other, "m.safetensors")); code != 2 {
		t.Errorf("--config with --no-config exited %d, want 2", code)
	}
}

func TestConfigThatIsNotJSON(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"hidden_size": 64`), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := nf4cmd(t, "quantize", "--quiet", in, filepath.Join(outDir, "m.safetensors"))
	if code != 1 || !strings.Contains(stderr, "config.json") {
		t.Errorf("exit %d, stderr %q: want 1 and an error naming config.json", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(outDir, "config.json")); err == nil {
		t.Error("a config.json was written from a broken one")
	}
}
