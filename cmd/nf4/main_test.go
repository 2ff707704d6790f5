package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/checkpoint"
	"gorgonia.org/tensor"
)

// binary is the nf4 command built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nf4-cli")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "nf4")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic("building nf4: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// nf4cmd runs the real binary and returns its output and exit status.
func nf4cmd(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

func values(n int, seed float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((i*7919)%101)/50 - 1 + seed
	}
	return v
}

// floatModel writes a small float checkpoint with the usual names.
func floatModel(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	es := []checkpoint.Entry{
		{Name: "model.embed_tokens.weight", DType: checkpoint.BF16, Shape: []int{32, 64}, Data: checkpoint.EncodeFloats(nil, values(32*64, 0), checkpoint.BF16)},
		{Name: "model.layers.0.mlp.up_proj.weight", DType: checkpoint.BF16, Shape: []int{128, 64}, Data: checkpoint.EncodeFloats(nil, values(128*64, 0.1), checkpoint.BF16)},
		{Name: "model.layers.0.mlp.down_proj.weight", DType: checkpoint.BF16, Shape: []int{64, 128}, Data: checkpoint.EncodeFloats(nil, values(64*128, 0.2), checkpoint.BF16)},
		{Name: "model.norm.weight", DType: checkpoint.BF16, Shape: []int{64}, Data: checkpoint.EncodeFloats(nil, values(64, 1), checkpoint.BF16)},
		{Name: "lm_head.weight", DType: checkpoint.BF16, Shape: []int{32, 64}, Data: checkpoint.EncodeFloats(nil, values(32*64, 0.3), checkpoint.BF16)},
	}
	if err := checkpoint.WriteFile(context.Background(), path, map[string]string{"format": "pt"}, es, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHelpAndUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string // in stdout for 0, stderr otherwise
	}{
		{nil, 2, "usage: nf4 <command>"},
		{[]string{"--help"}, 0, "Exit status: 0 success, 1 failure"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"quantize", "--help"}, 0, "usage: nf4 quantize [--block-size N] [--double-quant]"},
		{[]string{"inspect", "--help"}, 0, "usage: nf4 inspect FILE"},
		{[]string{"dequantize", "-h"}, 0, "usage: nf4 dequantize"},
		{[]string{"merge", "--help"}, 0, "usage: nf4 merge"},
		{[]string{"quantize", "in.safetensors"}, 2, "want 2 arguments, have 1"},
		{[]string{"quantize", "--block-size", "48", "a", "b"}, 2, "--block-size 48"},
		{[]string{"quantize", "--include", "(", "a", "b"}, 2, "--include"},
		{[]string{"quantize", "--bogus", "a", "b"}, 2, "flag provided but not defined"},
		{[]string{"dequantize", "--dtype", "I8", "a", "b"}, 2, `--dtype "I8"`},
		{[]string{"inspect", "does-not-exist.safetensors"}, 1, "does-not-exist.safetensors"},
	} {
		stdout, stderr, code := nf4cmd(t, c.args...)
		got := stderr
		if c.code == 0 {
			got = stdout
		}
		if code != c.code || !strings.Contains(got, c.out) {
			t.Errorf("nf4 %q: exit %d, want %d; output %q, want it to contain %q", c.args, code, c.code, got, c.out)
		}
	}
}

func TestQuantizeInspectDequantize(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	out := filepath.Join(dir, "nf4.safetensors")
	// flags after the positional arguments work too
	stdout, stderr, code := nf4cmd(t, "quantize", in, out, "--double-quant", "--block-size", "64")
	if code != 0 {
		t.Fatalf("quantize: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "2 quantized, 3 copied") {
		t.Errorf("quantize summary: %s", stdout)
	}
	if !strings.Contains(stderr, "100%") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	stdout, stderr, code = nf4cmd(t, "inspect", out)
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"model.layers.0.mlp.up_proj.weight", "NF4 b64+DQ", "[128 64]", "lm_head.weight", "BF16", "5 tensors", "2 NF4 weights", `format="pt"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, stdout)
		}
	}
	back := filepath.Join(dir, "back.safetensors")
	if _, stderr, code = nf4cmd(t, "dequantize", "--quiet", out, back); code != 0 {
		t.Fatalf("dequantize: exit %d: %s", code, stderr)
	}
	c, err := checkpoint.Open(back)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, info, err := c.Float32s("model.layers.0.mlp.up_proj.weight")
	if err != nil {
		t.Fatal(err)
	}
	if info.DType != checkpoint.BF16 {
		t.Errorf("dequantized to %s, want the recorded BF16", info.DType)
	}
	src := values(128*64, 0.1)
	for i, v := range got {
		if d := v - src[i]; d > 0.2 || d < -0.2 {
			t.Fatalf("value %d: %v, was %v", i, v, src[i])
		}
	}
	// --include / --exclude
	out2 := filepath.Join(dir, "some.safetensors")
	stdout, stderr, code = nf4cmd(t, "quantize", "--include", `lm_head|up_proj`, "--exclude", "up_proj", in, out2)
	if code != 0 || !strings.Contains(stdout, "1 quantized, 4 copied") {
		t.Errorf("include/exclude: exit %d, %s %s", code, stdout, stderr)
	}
}

func TestFailuresExitOneAndLeaveNoOutput(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	// truncate a copy of the input
	data, _ := os.ReadFile(in)
	bad := filepath.Join(dir, "bad.safetensors")
	os.WriteFile(bad, data[:len(data)-10], 0o644)
	out := filepath.Join(dir, "out.safetensors")
	_, stderr, code := nf4cmd(t, "quantize", bad, out)
	if code != 1 || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "lm_head.weight") {
		t.Errorf("truncated input: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("output written for a bad input")
	}
	// the output must not be the input
	_, stderr, code = nf4cmd(t, "quantize", in, in)
	if code != 1 || !strings.Contains(stderr, "is an input file") {
		t.Errorf("in == out: exit %d, %s", code, stderr)
	}
	if now, _ := os.ReadFile(in); !bytes.Equal(now, data) {
		t.Error("input changed")
	}
	// an explicitly included tensor that cannot be quantized
	_, stderr, code = nf4cmd(t, "quantize", "--include", "norm", in, out)
	if code != 1 || !strings.Contains(stderr, `"model.norm.weight"`) || !strings.Contains(stderr, "not 2-D") {
		t.Errorf("bad include: exit %d, %s", code, stderr)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("directory holds %d files, want the 2 inputs", len(ents))
	}
}

func TestMerge(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	base := filepath.Join(dir, "nf4.safetensors")
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", in, base); code != 0 {
		t.Fatal(stderr)
	}
	ad := filepath.Join(dir, "adapter")
	a := &checkpoint.Adapter{Rank: 2, Alpha: 4, Layers: []checkpoint.LoRALayer{{
		Module: "model.layers.0.mlp.up_proj",
		A:      tensor.New(tensor.WithShape(2, 64), tensor.WithBacking(values(128, 0))),
		B:      tensor.New(tensor.WithShape(128, 2), tensor.WithBacking(values(256, 0.5))),
	}}}
	if err := checkpoint.SaveAdapter(ad, a); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "merged.safetensors")
	stdout, stderr, code := nf4cmd(t, "merge", base, ad, out)
	if code != 0 || !strings.Contains(stdout, "model.layers.0.mlp.up_proj.weight: merged, requantized: max |err|") {
		t.Fatalf("merge: exit %d: %s %s", code, stdout, stderr)
	}
	c, err := checkpoint.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if w, _, err := c.NF4("model.layers.0.mlp.up_proj.weight"); err != nil || w.BlockSize() != nf4.DefaultBlockSize {
		t.Errorf("merged weight: %v %v", w, err)
	}
	// an adapter for a module the base does not have
	a.Layers[0].Module = "model.layers.9.mlp.up_proj"
	bad := filepath.Join(dir, "bad-adapter")
	checkpoint.SaveAdapter(bad, a)
	_, stderr, code = nf4cmd(t, "merge", base, bad, filepath.Join(dir, "m2.safetensors"))
	if code != 1 || !strings.Contains(stderr, "base_model.model.model.layers.9.mlp.up_proj.lora_A.weight") || !strings.Contains(stderr, "no base weight") {
		t.Errorf("bad adapter: exit %d: %s", code, stderr)
	}
}

func TestShardedInput(t *testing.T) {
	dir := t.TempDir()
	for i, name := range []string{"l0.weight", "l1.weight"} {
		shard := filepath.Join(dir, []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[i])
		es := []checkpoint.Entry{{Name: name, DType: checkpoint.F16, Shape: []int{16, 64}, Data: checkpoint.EncodeFloats(nil, values(1024, float32(i)), checkpoint.F16)}}
		if err := checkpoint.WriteFile(context.Background(), shard, nil, es, nil); err != nil {
			t.Fatal(err)
		}
	}
	index := filepath.Join(dir, "model.safetensors.index.json")
	os.WriteFile(index, []byte(`{"metadata": {}, "weight_map": {"l0.weight": "model-00001-of-00002.safetensors", "l1.weight": "model-00002-of-00002.safetensors"}}`), 0o644)
	stdout, stderr, code := nf4cmd(t, "inspect", index)
	if code != 0 || !strings.Contains(stdout, "l1.weight") || !strings.Contains(stdout, "F16") {
		t.Fatalf("inspect index: exit %d: %s %s", code, stdout, stderr)
	}
	out := filepath.Join(dir, "q.safetensors")
	if stdout, stderr, code = nf4cmd(t, "quantize", "--block-size", "32", index, out); code != 0 || !strings.Contains(stdout, "2 quantized") {
		t.Fatalf("quantize index: exit %d: %s %s", code, stdout, stderr)
	}
	stdout, _, _ = nf4cmd(t, "inspect", out)
	if !strings.Contains(stdout, "NF4 b32") {
		t.Errorf("inspect: %s", stdout)
	}
}

// After "--" every word is an argument, even one that looks like a flag:
// files whose names start with "-" can be named, and a flag after "--" is
// not obeyed.
func TestDoubleDashEndsTheFlags(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	os.Rename(in, filepath.Join(dir, "-in.safetensors"))
	if _, stderr, code := nf4at(t, dir, "quantize", "--quiet", "--", "-in.safetensors", "-out.safetensors"); code != 0 {
		t.Fatalf("quantize -- -in -out: exit %d: %s", code, stderr)
	}
	if stdout, stderr, code := nf4at(t, dir, "inspect", "--", "-out.safetensors"); code != 0 || !strings.Contains(stdout, "NF4 b64") {
		t.Errorf("inspect -- -out: exit %d: %s%s", code, stdout, stderr)
	}
	before := tree(t, dir)
	_, stderr, code := nf4at(t, dir, "quantize", "--", "-in.safetensors", "-out.safetensors", "--quiet")
	if code != 2 || !strings.Contains(stderr, "want 2 arguments, have 3") {
		t.Errorf("quantize -- IN OUT --quiet: exit %d, %q; want a usage error", code, stderr)
	}
	unchanged(t, "a flag after --", before, tree(t, dir))
}
