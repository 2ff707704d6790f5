package main

import (
	"os"
	"path/filepath"
	"strconv"
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

// FuzzParseSize: any text gives a positive size or a usage error, never a
// panic, and a plain byte count reads back as itself.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"5GB", "2GiB", "1048576", "1.5 MB", "", "-1", "1e400GB", "GiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize("shard-size", s)
		switch {
		case err != nil:
			if _, ok := err.(*usageError); !ok {
				t.Fatalf("parseSize(%q): %v is not a usage error", s, err)
			}
		case s == "" && n != 0, s != "" && n <= 0:
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
		if err == nil && s != "" {
			if m, err := parseSize("shard-size", strconv.FormatInt(n, 10)); err != nil || m != n {
				t.Fatalf("%d read back as %d, %v", n, m, err)
			}
		}
	})
}
