package main

import (
	"bytes"
	bin "encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4/checkpoint"
	"gorgonia.org/tensor"
)

// The tests in this file use the nf4 command as a careless or hostile user
// would, and check after each run that every input and every unrelated
// file is exactly as it was, and that nothing was left behind.

// nf4at runs the binary in dir.
func nf4at(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
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

// tree records every file under dir: contents, link targets, or kinds.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			m[rel] = "link:" + l
			return err
		case d.IsDir():
			m[rel] = "dir"
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			m[rel] = string(b)
			return err
		default:
			m[rel] = d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// unchanged fails the test when anything under the tree differs.
func unchanged(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if w, ok := after[k]; !ok {
			t.Errorf("%s: %s vanished", what, k)
		} else if w != v {
			t.Errorf("%s: %s changed", what, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s: %s left behind", what, k)
		}
	}
}

// nf4Model quantizes floatModel into dir/nf4.safetensors and writes a
// PEFT adapter for one of its weights into dir/adapter.
func nf4Model(t testing.TB, dir string) (base, adapter string) {
	t.Helper()
	in := floatModel(t, dir)
	base = filepath.Join(dir, "nf4.safetensors")
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", in, base); code != 0 {
		t.Fatal(stderr)
	}
	os.Remove(in)
	adapter = filepath.Join(dir, "adapter")
	a := &checkpoint.Adapter{Rank: 2, Alpha: 4, Layers: []checkpoint.LoRALayer{{
		Module: "model.layers.0.mlp.up_proj",
		A:      tensor.New(tensor.WithShape(2, 64), tensor.WithBacking(values(128, 0))),
		B:      tensor.New(tensor.WithShape(128, 2), tensor.WithBacking(values(256, 0.5))),
	}}}
	if err := checkpoint.SaveAdapter(adapter, a); err != nil {
		t.Fatal(err)
	}
	return base, adapter
}

// Item: merge must never write over the adapter it reads, however its
// files are named: directly, relative, through ./ and .., a symbolic link
// or a hard link.
func TestMergeNeverOverwritesTheAdapter(t *testing.T) {
	dir := t.TempDir()
	nf4Model(t, dir)
	if err := os.Link(filepath.Join(dir, "adapter", "adapter_model.safetensors"), filepath.Join(dir, "hard.safetensors")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("adapter/adapter_config.json", filepath.Join(dir, "soft.json")); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dir)
	for _, out := range []string{
		filepath.Join(dir, "adapter", "adapter_model.safetensors"),
		filepath.Join(dir, "adapter", "adapter_config.json"),
		"adapter/adapter_model.safetensors",
		"./adapter/../adapter/adapter_config.json",
		"hard.safetensors",
		"soft.json",
		"nf4.safetensors",
	} {
		_, stderr, code := nf4at(t, dir, "merge", "nf4.safetensors", "adapter", out)
		if code != 1 || !strings.Contains(stderr, "is an input file") || !strings.Contains(stderr, out) {
			t.Errorf("merge into %s: exit %d, %q; want 1 and an error saying it is an input", out, code, stderr)
		}
		unchanged(t, "merge into "+out, before, tree(t, dir))
	}
	// A new name inside the adapter's folder is fine.
	if _, stderr, code := nf4at(t, dir, "merge", "--quiet", "nf4.safetensors", "adapter", "adapter/merged.safetensors"); code != 0 {
		t.Errorf("merge into a new name: exit %d: %s", code, stderr)
	}
}

// Item: config.json is an input. Naming it (or the index, a shard, an
// adapter file) as OUT or as --config is refused before any work, and a
// config.json that cannot be used fails the run before any weight is
// written.
func TestConfigAndIndexAreInputs(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(modelConfig), 0o644)
	os.Symlink("config.json", filepath.Join(dir, "cfg-link.json"))
	// a sharded copy of the model
	sh := filepath.Join(dir, "sharded")
	os.Mkdir(sh, 0o755)
	index := filepath.Join(sh, "model.safetensors.index.json")
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", "--no-config", "--shard-size", "6KB", in, filepath.Join(sh, "model.safetensors")); code != 0 {
		t.Fatal(stderr)
	}
	shards, _ := filepath.Glob(filepath.Join(sh, "model-00001-of-*.safetensors"))
	if len(shards) != 1 {
		t.Fatalf("shards %v", shards)
	}
	shard := shards[0]
	_, adapter := nf4Model(t, t.TempDir())
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	newOut := filepath.Join(other, "m.safetensors")

	before := tree(t, dir)
	for _, args := range [][]string{
		{"quantize", in, cfg},
		{"quantize", "--no-config", in, cfg},
		{"quantize", in, filepath.Join(dir, "cfg-link.json")},
		{"quantize", "--config", index, index, newOut},
		{"quantize", "--config", shard, index, newOut},
		{"quantize", "--config", in, in, newOut},
		{"quantize", "--config", newOut, in, newOut},
		{"quantize", "--shard-size", "6KB", "--config", newOut + ".index.json", in, newOut},
		{"dequantize", "--config", index, index, newOut},
		{"merge", "--config", filepath.Join(adapter, "adapter_config.json"), filepath.Join(filepath.Dir(adapter), "nf4.safetensors"), adapter, newOut},
	} {
		stdout, stderr, code := nf4cmd(t, args...)
		if code != 1 || !strings.Contains(stderr, "is an input file") && !strings.Contains(stderr, "is also where the checkpoint goes") {
			t.Errorf("nf4 %q: exit %d, %q; want 1 and a refusal", args, code, stderr)
		}
		if strings.Contains(stdout, "left alone") || strings.Contains(stdout, "wrote") {
			t.Errorf("nf4 %q claims work: %s", args, stdout)
		}
		unchanged(t, strings.Join(args, " "), before, tree(t, dir))
	}

	// --config naming the input's own config.json updates it in place.
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", "--config", cfg, in, newOut); code != 0 {
		t.Fatalf("--config IN's config.json: exit %d: %s", code, stderr)
	}
	if _, ok := readJSON(t, cfg)["quantization_config"]; !ok {
		t.Error("--config IN's config.json: no quantization_config written")
	}

	// A broken config.json stops the run before any weight is written.
	os.WriteFile(cfg, []byte(`{"hidden_size": 64`), 0o644)
	before = tree(t, dir)
	_, stderr, code := nf4cmd(t, "quantize", "--quiet", in, filepath.Join(other, "n.safetensors"))
	if code != 1 || !strings.Contains(stderr, cfg) {
		t.Errorf("broken config.json: exit %d, %q", code, stderr)
	}
	unchanged(t, "broken config.json", before, tree(t, dir))
}

// Item: a sharded run that fails leaves the earlier output with the same
// names exactly as it was: shards, index and config.json.
func TestFailedRunKeepsThePreviousShards(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(modelConfig), 0o644)
	outDir := filepath.Join(dir, "out")
	os.Mkdir(outDir, 0o755)
	out := filepath.Join(outDir, "model.safetensors")
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", "--shard-size", "6KB", in, out); code != 0 {
		t.Fatal(stderr)
	}
	if _, err := os.Stat(filepath.Join(outDir, "config.json")); err != nil {
		t.Fatal(err)
	}
	// the same model with a NaN in its last quantized weight
	bad := filepath.Join(dir, "bad")
	os.Mkdir(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(modelConfig), 0o644)
	down := values(64*128, 0.2)
	down[len(down)-1] = float32(math.NaN())
	es := []checkpoint.Entry{
		{Name: "model.layers.0.mlp.up_proj.weight", DType: checkpoint.BF16, Shape: []int{128, 64}, Data: checkpoint.EncodeFloats(nil, values(128*64, 0.1), checkpoint.BF16)},
		{Name: "model.layers.0.mlp.down_proj.weight", DType: checkpoint.BF16, Shape: []int{64, 128}, Data: checkpoint.EncodeFloats(nil, down, checkpoint.BF16)},
	}
	badIn := filepath.Join(bad, "model.safetensors")
	if err := checkpoint.WriteFile(t.Context(), badIn, nil, es, nil); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dir)
	_, stderr, code := nf4cmd(t, "quantize", "--quiet", "--shard-size", "6KB", badIn, out)
	if code != 1 || !strings.Contains(stderr, "down_proj") {
		t.Errorf("NaN weight: exit %d, %q", code, stderr)
	}
	unchanged(t, "failed run", before, tree(t, dir))

	// An index that is a directory is a usage error before any work, and
	// the shards beside it stay.
	index := out + ".index.json"
	os.Remove(index)
	os.Mkdir(index, 0o755)
	before = tree(t, dir)
	_, stderr, code = nf4cmd(t, "quantize", "--quiet", "--shard-size", "6KB", in, out)
	if code != 2 || !strings.Contains(stderr, index) {
		t.Errorf("index is a directory: exit %d, %q", code, stderr)
	}
	unchanged(t, "index is a directory", before, tree(t, dir))
}

// Item: float outputs that would hold ±Inf or NaN are errors naming the
// tensor, row and column (exit 1), unless --allow-overflow asks for ±Inf.
func TestFloatOutputsStayFinite(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "big.safetensors")
	big := values(128*64, 0)
	for i := range big {
		big[i] *= 1e5
	}
	es := []checkpoint.Entry{{Name: "l.weight", DType: checkpoint.F32, Shape: []int{128, 64}, Data: checkpoint.EncodeFloats(nil, big, checkpoint.F32)}}
	if err := checkpoint.WriteFile(t.Context(), in, nil, es, nil); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "q.safetensors")
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", in, q); code != 0 {
		t.Fatal(stderr)
	}
	before := tree(t, dir)
	out := filepath.Join(dir, "f16.safetensors")
	_, stderr, code := nf4cmd(t, "dequantize", "--dtype", "F16", q, out)
	if code != 1 || !strings.Contains(stderr, `"l.weight"`) || !strings.Contains(stderr, "beyond the range of F16") || !strings.Contains(stderr, "at row 0, column") {
		t.Errorf("dequantize --dtype F16: exit %d, %q", code, stderr)
	}
	unchanged(t, "dequantize --dtype F16", before, tree(t, dir))
	if _, stderr, code := nf4cmd(t, "dequantize", "--quiet", "--dtype", "F16", "--allow-overflow", q, out); code != 0 {
		t.Fatalf("--allow-overflow: exit %d: %s", code, stderr)
	}
	_, stderr, code = nf4cmd(t, "quantize", out, filepath.Join(dir, "again.safetensors"))
	if code != 1 || !strings.Contains(stderr, "non-finite") {
		t.Errorf("quantizing the ±Inf file: exit %d, %q", code, stderr)
	}

	// An adapter with a NaN (as another program may write it: SaveAdapter
	// refuses to), merged into a float base or with --float.
	base, adapter := nf4Model(t, t.TempDir())
	a, err := checkpoint.LoadAdapter(adapter)
	if err != nil {
		t.Fatal(err)
	}
	a.Layers[0].B.Data().([]float32)[7] = float32(math.NaN())
	var lora []checkpoint.Entry
	for _, p := range []struct {
		name string
		t    *tensor.Dense
	}{{"lora_A", a.Layers[0].A}, {"lora_B", a.Layers[0].B}} {
		lora = append(lora, checkpoint.Entry{Name: "base_model.model." + a.Layers[0].Module + "." + p.name + ".weight", DType: checkpoint.F32,
			Shape: p.t.Shape(), Data: checkpoint.EncodeFloats(nil, p.t.Data().([]float32), checkpoint.F32)})
	}
	if err := checkpoint.WriteFile(t.Context(), filepath.Join(adapter, checkpoint.AdapterWeightsFile), nil, lora, nil); err != nil {
		t.Fatal(err)
	}
	before = tree(t, filepath.Dir(base))
	for _, args := range [][]string{{"merge", base, adapter, out}, {"merge", "--float", base, adapter, filepath.Join(filepath.Dir(base), "m.safetensors")}} {
		_, stderr, code = nf4cmd(t, args...)
		if code != 1 || !strings.Contains(stderr, "lora_B.weight") || !strings.Contains(stderr, "row 3, column 1") || !strings.Contains(stderr, "not finite") {
			t.Errorf("nf4 %q: exit %d, %q", args, code, stderr)
		}
	}
	unchanged(t, "merge with a NaN", before, tree(t, filepath.Dir(base)))
}

// rawCheckpoint assembles a safetensors file from a header and data.
func rawCheckpoint(t *testing.T, path, header string, data []byte) {
	t.Helper()
	b := bin.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(append(b, header...), data...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Item: nf4 never writes a file it cannot read back: a header that would
// pass the limit, and names that JSON would silently rename, are errors
// before any output exists.
func TestNeverWritesWhatItCannotRead(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.safetensors")

	// Names that are not UTF-8 (two that would both become "w\uFFFD.weight").
	bad := filepath.Join(dir, "names.safetensors")
	rawCheckpoint(t, bad, "{\"w\xff.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"+
		"\"w\xfe.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", make([]byte, 8))
	before := tree(t, dir)
	for _, cmd := range []string{"quantize", "dequantize", "inspect"} {
		args := []string{cmd, bad, out}
		if cmd == "inspect" {
			args = args[:2]
		}
		_, stderr, code := nf4cmd(t, args...)
		if code != 1 || !strings.Contains(stderr, `w\xff.weight`) || !strings.Contains(stderr, "not valid UTF-8") {
			t.Errorf("nf4 %s: exit %d, %q; want 1 and the name's bytes escaped", cmd, code, stderr)
		}
	}
	unchanged(t, "names not UTF-8", before, tree(t, dir))
	os.Remove(bad)

	if testing.Short() || raceEnabled {
		return // builds a 100 MiB header
	}
	// A header just under the limit, which quantizing would grow past it:
	// 98 empty tensors and one weight, all with names of 1 MiB.
	long := strings.Repeat("n", 1<<20)
	var h strings.Builder
	h.WriteString("{")
	for i := range 98 {
		fmt.Fprintf(&h, `"%d%s":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},`, i, long)
	}
	fmt.Fprintf(&h, `"%s.weight":{"dtype":"F32","shape":[8,64],"data_offsets":[0,2048]}}`, long)
	in := filepath.Join(dir, "long.safetensors")
	rawCheckpoint(t, in, h.String(), checkpoint.EncodeFloats(nil, values(512, 0), checkpoint.F32))
	before = tree(t, dir)
	_, stderr, code := nf4cmd(t, "quantize", in, out)
	if code != 1 || !strings.Contains(stderr, "byte limit that readers") {
		t.Errorf("quantize near the header limit: exit %d, %.300q", code, stderr)
	}
	unchanged(t, "header limit", before, tree(t, dir))
}

// Item: inspect shows a name with control characters escaped, so it can
// neither drive the terminal nor break the table.
func TestInspectEscapesNames(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "odd.safetensors")
	names := []string{"evil\x1b[2J\rname", "tab\there", "new\nline", "plain.weight", "nbsp\u00a0x"}
	var es []checkpoint.Entry
	for _, n := range names {
		es = append(es, checkpoint.Entry{Name: n, DType: checkpoint.F32, Shape: []int{1}, Data: make([]byte, 4)})
	}
	if err := checkpoint.WriteFile(t.Context(), in, map[string]string{"k\x07": "v"}, es, nil); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := nf4cmd(t, "inspect", in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`"evil\x1b[2J\rname"`, `"tab\there"`, `"new\nline"`, "plain.weight", `"nbsp\u00a0x"`, `"k\a"=`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect output lacks %s:\n%s", want, stdout)
		}
	}
	if strings.ContainsAny(stdout, "\x1b\r\a") || strings.Count(stdout, "\n") != len(names)+4 {
		t.Errorf("control characters reach the terminal:\n%q", stdout)
	}
}

// Item: a finite F64 weight beyond float32's range is called that, with
// its value, row and column, not "non-finite +Inf" (which it only became
// by the conversion): as QuantizeFloat64s says it.
func TestFloat64BeyondFloat32IsNamed(t *testing.T) {
	dir := t.TempDir()
	v := make([]float64, 4*64)
	for i := range v {
		v[i] = float64(i%7) / 10
	}
	v[64+6] = 1e300
	var b []byte
	for _, x := range v {
		b = bin.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	in := filepath.Join(dir, "f64.safetensors")
	if err := checkpoint.WriteFile(t.Context(), in, nil, []checkpoint.Entry{{Name: "a.weight", DType: checkpoint.F64, Shape: []int{4, 64}, Data: b}}, nil); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dir)
	_, stderr, code := nf4cmd(t, "quantize", in, filepath.Join(dir, "out.safetensors"))
	if code != 1 || !strings.Contains(stderr, `"a.weight"`) || !strings.Contains(stderr, "1e+300 at row 1, column 6") ||
		!strings.Contains(stderr, "float32") || strings.Contains(stderr, "non-finite") {
		t.Errorf("quantize an F64 weight of 1e300: exit %d, %q", code, stderr)
	}
	unchanged(t, "1e300", before, tree(t, dir))
}
