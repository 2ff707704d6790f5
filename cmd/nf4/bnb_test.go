package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4/checkpoint"
)

// goldenPath is a file bitsandbytes wrote, kept with the checkpoint
// package's tests.
func goldenPath(name string) string {
	return filepath.Join("..", "..", "checkpoint", "testdata", "bnb", name)
}

func readFloats(t *testing.T, path, name string) []float32 {
	t.Helper()
	c, err := checkpoint.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, _, err := c.Float32s(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func sameFloatBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestNegativeDecodedScaleEndToEnd: a weight whose double-quantized scale
// decodes below zero (an all-zero block beside a large one) is written by
// `nf4 quantize --double-quant`, listed by `nf4 inspect` and read back by
// `nf4 dequantize`; the same holds for bitsandbytes' own file of that case,
// which dequantizes to bitsandbytes' values bit for bit.
func TestNegativeDecodedScaleEndToEnd(t *testing.T) {
	golden := goldenPath("doublequant_negative_scale_b64.safetensors")
	dir := t.TempDir()

	back := filepath.Join(dir, "bnb-f32.safetensors")
	if _, stderr, code := nf4cmd(t, "inspect", golden); code != 0 {
		t.Fatalf("inspect of bitsandbytes' file: exit %d: %s", code, stderr)
	}
	if _, stderr, code := nf4cmd(t, "dequantize", "--no-config", "--dtype", "F32", golden, back); code != 0 {
		t.Fatalf("dequantize of bitsandbytes' file: exit %d: %s", code, stderr)
	}
	if !sameFloatBits(readFloats(t, back, "weight"), readFloats(t, golden, "dequantized")) {
		t.Error("bitsandbytes' file dequantizes to other values than bitsandbytes'")
	}

	in := filepath.Join(dir, "model.safetensors")
	es := []checkpoint.Entry{{Name: "model.layers.0.mlp.up_proj.weight", DType: checkpoint.F32, Shape: []int{16, 1024},
		Data: checkpoint.EncodeFloats(nil, readFloats(t, golden, "input"), checkpoint.F32)}}
	if err := checkpoint.WriteFile(context.Background(), in, nil, es, nil); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "q.safetensors")
	if _, stderr, code := nf4cmd(t, "quantize", "--double-quant", "--no-config", in, q); code != 0 {
		t.Fatalf("quantize: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := nf4cmd(t, "inspect", q)
	if code != 0 || !strings.Contains(stdout, "+DQ") {
		t.Fatalf("inspect: exit %d: %s%s", code, stdout, stderr)
	}
	if _, stderr, code := nf4cmd(t, "dequantize", "--no-config", q, filepath.Join(dir, "f.safetensors")); code != 0 {
		t.Fatalf("dequantize of nf4's own file: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "f.safetensors")); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenFilesEndToEnd: `nf4 inspect` lists every file bitsandbytes
// wrote (NF4 and FP4, every storage dtype and shape), and `nf4 dequantize`
// turns each weight back into bitsandbytes' values bit for bit.
func TestGoldenFilesEndToEnd(t *testing.T) {
	files, err := filepath.Glob(goldenPath("*.safetensors"))
	if err != nil || len(files) < 30 {
		t.Fatalf("golden files: %d, %v", len(files), err)
	}
	dir := t.TempDir()
	for _, f := range files {
		name := filepath.Base(f)
		stdout, stderr, code := nf4cmd(t, "inspect", f)
		wantType := "NF4 b"
		if strings.HasPrefix(name, "fp4") {
			wantType = "FP4 b"
		}
		if code != 0 || !strings.Contains(stdout, wantType) {
			t.Errorf("inspect %s: exit %d: %s%s", name, code, stdout, stderr)
			continue
		}
		out := filepath.Join(dir, name)
		if _, stderr, code := nf4cmd(t, "dequantize", "--no-config", "--dtype", "F32", f, out); code != 0 {
			t.Errorf("dequantize %s: exit %d: %s", name, code, stderr)
			continue
		}
		c, err := checkpoint.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		weight := c.Metadata["weight"]
		c.Close()
		if !sameFloatBits(readFloats(t, out, weight), readFloats(t, f, "dequantized")) {
			t.Errorf("%s: nf4 dequantize differs from bitsandbytes' values", name)
		}
	}
}

// TestQuantTypeFP4EndToEnd: --quant-type fp4 writes FP4 weights that
// inspect shows as such and dequantize reads back; an unknown type is a
// usage error.
func TestQuantTypeFP4EndToEnd(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	q := filepath.Join(dir, "q.safetensors")
	if _, stderr, code := nf4cmd(t, "quantize", "--quant-type", "fp4", "--double-quant", "--no-config", in, q); code != 0 {
		t.Fatalf("quantize: exit %d: %s", code, stderr)
	}
	stdout, _, code := nf4cmd(t, "inspect", q)
	if code != 0 || !strings.Contains(stdout, "FP4 b64+DQ") {
		t.Fatalf("inspect: exit %d: %s", code, stdout)
	}
	c, err := checkpoint.Open(q)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Has("model.layers.0.mlp.up_proj.weight" + checkpoint.SuffixQuantStateFP4) {
		t.Error("no FP4 quant state written")
	}
	c.Close()
	if _, stderr, code := nf4cmd(t, "dequantize", "--no-config", q, filepath.Join(dir, "f.safetensors")); code != 0 {
		t.Fatalf("dequantize: exit %d: %s", code, stderr)
	}
	if _, _, code := nf4cmd(t, "quantize", "--quant-type", "int4", in, filepath.Join(dir, "x.safetensors")); code != 2 {
		t.Errorf("--quant-type int4: exit %d, want 2", code)
	}
}
