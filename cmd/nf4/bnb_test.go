package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4/checkpoint"
	"gorgonia.org/tensor"
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
	// The name as bitsandbytes' docs and users spell it, upper case too.
	if _, stderr, code := nf4cmd(t, "quantize", "--quant-type", "FP4", "--no-config", in, filepath.Join(dir, "u.safetensors")); code != 0 {
		t.Errorf("--quant-type FP4: exit %d: %s", code, stderr)
	}
	if _, _, code := nf4cmd(t, "quantize", "--quant-type", "int4", in, filepath.Join(dir, "x.safetensors")); code != 2 {
		t.Errorf("--quant-type int4: exit %d, want 2", code)
	}
}

// Item: nf4 merge takes every 2-D layout bitsandbytes writes, blocks
// spanning rows and a partial last block included: the merged weight is
// requantized in the base's layout, reads back, and stays within NF4's
// bound of the float merge (which --float writes).
func TestMergeIntoFlatLayouts(t *testing.T) {
	for _, c := range []struct {
		file    string
		out, in int
	}{{"partial_10x100_b64.safetensors", 10, 100}, {"rowspan_64x96_b64.safetensors", 64, 96}} {
		dir := t.TempDir()
		base := goldenPath(c.file)
		const weight = "model.layers.0.mlp.down_proj.weight"
		a := &checkpoint.Adapter{Rank: 2, Alpha: 4, Layers: []checkpoint.LoRALayer{{
			Module: strings.TrimSuffix(weight, ".weight"),
			A:      tensor.New(tensor.WithShape(2, c.in), tensor.WithBacking(values(2*c.in, 0))),
			B:      tensor.New(tensor.WithShape(c.out, 2), tensor.WithBacking(values(2*c.out, 0.5))),
		}}}
		adapter := filepath.Join(dir, "adapter")
		if err := checkpoint.SaveAdapter(adapter, a); err != nil {
			t.Fatal(err)
		}
		merged, float := filepath.Join(dir, "merged.safetensors"), filepath.Join(dir, "float.safetensors")
		for _, args := range [][]string{{"merge", "--quiet", base, adapter, merged}, {"merge", "--quiet", "--float", base, adapter, float}} {
			if _, stderr, code := nf4cmd(t, args...); code != 0 {
				t.Fatalf("nf4 %q: exit %d: %s", args, code, stderr)
			}
		}
		c1, err := checkpoint.Open(merged)
		if err != nil {
			t.Fatal(err)
		}
		w, _, err := c1.NF4(weight)
		c1.Close()
		if err != nil {
			t.Fatalf("%s: the merged weight does not read back: %v", c.file, err)
		}
		d, _ := w.Dequantize()
		got, want := d.Data().([]float32), readFloats(t, float, weight)
		for i := 0; i < len(want); i += 64 {
			end := min(i+64, len(want))
			var amax float64
			for _, v := range want[i:end] {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			for j := i; j < end; j++ {
				if e := math.Abs(float64(got[j] - want[j])); e > 0.152*amax {
					t.Fatalf("%s: value %d is %v, the float merge %v (block absmax %v)", c.file, j, got[j], want[j], amax)
				}
			}
		}
	}
}
