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
