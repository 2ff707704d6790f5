package llama

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/nf4go/nf4/checkpoint"
)

// A folder of BF16 shards read through model.safetensors.index.json gives
// the logits of the float32 model up to BF16 rounding, kept float or
// quantized as it loads.
func TestLoadShardedBF16(t *testing.T) {
	m := tinyModel(t, false, true, 23)
	dir := t.TempDir()
	f32 := filepath.Join(dir, "f32")
	if err := m.Save(f32); err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.Open(filepath.Join(f32, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var es []checkpoint.Entry
	for _, ti := range c.Tensors() {
		v, info, err := c.Float32s(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, checkpoint.Entry{Name: ti.Name, DType: checkpoint.BF16, Shape: info.Shape, Data: checkpoint.EncodeFloats(nil, v, checkpoint.BF16)})
	}
	bf := filepath.Join(dir, "bf16")
	os.MkdirAll(bf, 0o755)
	files, err := checkpoint.WriteSharded(context.Background(), filepath.Join(bf, WeightsFile), map[string]string{"format": "pt"}, es, 20<<10, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("wrote %v: want several shards and an index", files)
	}
	cfg, _ := os.ReadFile(filepath.Join(f32, "config.json"))
	os.WriteFile(filepath.Join(bf, "config.json"), cfg, 0o644)
	ids := randomIDs(rand.New(rand.NewPCG(1, 1)), 30, 97)
	want, _ := m.Logits(ids)
	for _, o := range []LoadOptions{{Float: true}, {}} {
		got, err := Load(bf, o)
		if err != nil {
			t.Fatal(err)
		}
		if o.Float == got.Layers[0].Q.IsNF4() {
			t.Fatalf("Float %v loaded NF4 %v", o.Float, got.Layers[0].Q.IsNF4())
		}
		lg, err := got.Logits(ids)
		if err != nil {
			t.Fatal(err)
		}
		tol := 1e-2
		if !o.Float {
			tol = 0.2 // NF4
		}
		if e := relErr(lg, want); e > tol || e == 0 {
			t.Errorf("Float %v: logits of the BF16 shards differ from float32 by %.3g (want 0 < error ≤ %g)", o.Float, e, tol)
		}
	}
}
