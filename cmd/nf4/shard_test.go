package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for s, want := range map[string]int64{"": 0, "1048576": 1 << 20, "5GB": 5e9, "2GiB": 2 << 30, "1.5MB": 1.5e6, "10 MiB": 10 << 20, "300KB": 3e5} {
		got, err := parseSize("shard-size", s)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"0", "-5GB", "GB", "5XB", "1e30", "NaN"} {
		if _, err := parseSize("shard-size", s); err == nil {
			t.Errorf("parseSize(%q) gave no error", s)
		}
	}
}

// A quantized model written as shards reads back through its index.
func TestQuantizeIntoShards(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	outDir := filepath.Join(dir, "nf4")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(outDir, "model.safetensors")
	stdout, stderr, code := nf4cmd(t, "quantize", "--shard-size", "6KB", in, out)
	if code != 0 {
		t.Fatalf("quantize exited %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "shards and "+out+".index.json") {
		t.Errorf("summary does not name the shards:\n%s", stdout)
	}
	shards, _ := filepath.Glob(filepath.Join(outDir, "model-*-of-*.safetensors"))
	if len(shards) < 2 {
		t.Fatalf("shards %v", shards)
	}
	stdout, stderr, code = nf4cmd(t, "inspect", out+".index.json")
	if code != 0 || !strings.Contains(stdout, "model.layers.0.mlp.up_proj.weight") {
		t.Fatalf("inspect exited %d: %s\n%s", code, stderr, stdout)
	}
	back := filepath.Join(dir, "back.safetensors")
	if _, stderr, code := nf4cmd(t, "dequantize", "--quiet", out+".index.json", back); code != 0 {
		t.Fatalf("dequantize exited %d: %s", code, stderr)
	}
	if _, _, code := nf4cmd(t, "quantize", "--shard-size", "lots", in, out); code != 2 {
		t.Errorf("--shard-size lots exited %d, want 2", code)
	}
}
