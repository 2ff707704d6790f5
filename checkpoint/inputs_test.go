package checkpoint

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/nf4go/nf4"
)

// treeSnapshot records every file under dir (contents, or link targets),
// so a test can tell that nothing was added, changed or removed.
func treeSnapshot(t *testing.T, dir string) map[string]string {
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

func sameTree(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if w, ok := after[k]; !ok {
			t.Errorf("%s vanished", k)
		} else if w != v {
			t.Errorf("%s changed", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s left behind", k)
		}
	}
}

// Every file a conversion reads (the base, the adapter's two files, an
// index and its shards) is refused as its output however the path is
// spelled, before anything is written.
func TestOutputThatIsAnInputIsRefused(t *testing.T) {
	dir := t.TempDir()
	w, _ := nf4.QuantizeFloat32s(normals(1, 8*64), 8, 64)
	es := nf4Entries(t, "m.proj.weight", w, F32)
	base := writeEntries(t, dir, "base.safetensors", nil, es...)
	ad := filepath.Join(dir, "adapter")
	if err := SaveAdapter(ad, &Adapter{Rank: 2, Alpha: 4, Layers: []LoRALayer{loraLayer("m.proj", 1, 2, 8, 64)}}); err != nil {
		t.Fatal(err)
	}
	weights, config := filepath.Join(ad, AdapterWeightsFile), filepath.Join(ad, AdapterConfigFile)
	if err := os.Link(weights, filepath.Join(dir, "hardlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(config, filepath.Join(dir, "symlink")); err != nil {
		t.Fatal(err)
	}
	// a sharded float checkpoint
	sh := filepath.Join(dir, "sharded")
	os.Mkdir(sh, 0o755)
	writeEntries(t, sh, "m-00001-of-00001.safetensors", nil, floatEntry("a.weight", F32, []int{4, 64}, normals(2, 256)))
	index := filepath.Join(sh, "m.safetensors.index.json")
	os.WriteFile(index, []byte(`{"weight_map": {"a.weight": "m-00001-of-00001.safetensors"}}`), 0o644)
	t.Chdir(dir)

	ctx := context.Background()
	before := treeSnapshot(t, dir)
	for _, out := range []string{weights, config, "adapter/" + AdapterWeightsFile, "./adapter/../adapter/" + AdapterConfigFile,
		"hardlink", "symlink", base, "./base.safetensors"} {
		_, err := MergeFile(ctx, base, ad, out, MergeOptions{})
		wantErr(t, err, out, "is an input file")
		sameTree(t, before, treeSnapshot(t, dir))
	}
	for _, out := range []string{index, "sharded/m-00001-of-00001.safetensors", "./sharded/m.safetensors.index.json"} {
		_, err := QuantizeFile(ctx, index, out, QuantizeOptions{})
		wantErr(t, err, out, "is an input file")
		_, err = DequantizeFile(ctx, index, out, DequantizeOptions{})
		wantErr(t, err, out, "is an input file")
		sameTree(t, before, treeSnapshot(t, dir))
	}
	// Shards that would be named like the input's are refused before any
	// work, however many there would be.
	other := filepath.Join(sh, "other.safetensors.index.json")
	os.WriteFile(other, []byte(`{"weight_map": {"a.weight": "m-00001-of-00001.safetensors"}}`), 0o644)
	before = treeSnapshot(t, dir)
	_, err := QuantizeFile(ctx, other, "sharded/m.safetensors", QuantizeOptions{ShardSize: 100})
	wantErr(t, err, "sharded/m.safetensors", "shards would be named like the input")
	sameTree(t, before, treeSnapshot(t, dir))
	// An output that is no input is written.
	if _, err := MergeFile(ctx, base, ad, filepath.Join(ad, "merged.safetensors"), MergeOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A conversion asked for a config.json reads it before any work and
// writes it with the weights; the config.json beside the input is never
// the checkpoint's output.
func TestConversionConfig(t *testing.T) {
	dir := t.TempDir()
	in := writeEntries(t, dir, "model.safetensors", nil, floatEntry("a.weight", BF16, []int{4, 64}, normals(1, 256)))
	cfg := filepath.Join(dir, ConfigFile)
	os.WriteFile(cfg, []byte(`{"hidden_size": 64, "torch_dtype": "bfloat16"}`), 0o644)
	ctx := context.Background()
	before := treeSnapshot(t, dir)
	_, err := QuantizeFile(ctx, in, cfg, QuantizeOptions{})
	wantErr(t, err, cfg, "is an input file")
	_, err = QuantizeFile(ctx, in, filepath.Join(dir, "b.safetensors"), QuantizeOptions{Config: ConfigCopy{From: cfg, To: in}})
	wantErr(t, err, in, "is an input file")
	_, err = QuantizeFile(ctx, in, filepath.Join(dir, "b.safetensors"), QuantizeOptions{Config: ConfigCopy{From: cfg}})
	wantErr(t, err, "both a source and a target")
	sameTree(t, before, treeSnapshot(t, dir))

	sub := filepath.Join(dir, "nf4")
	os.Mkdir(sub, 0o755)
	rep, err := QuantizeFile(ctx, in, filepath.Join(sub, "model.safetensors"), QuantizeOptions{Config: ConfigCopy{From: cfg, To: filepath.Join(sub, ConfigFile)}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Config != filepath.Join(sub, ConfigFile) {
		t.Errorf("Report.Config = %q", rep.Config)
	}
	b, err := os.ReadFile(filepath.Join(sub, ConfigFile))
	if err != nil || !bytes.Contains(b, []byte(`"quantization_config"`)) || !bytes.Contains(b, []byte(`"hidden_size": 64`)) {
		t.Errorf("config written: %s (%v)", b, err)
	}
}
