package llama

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4/checkpoint"
)

// Adapters saved in PEFT's layout reload to the same logits, and merging
// them into the saved base (what `nf4 merge` runs) gives the same model up
// to requantization.
func TestAdapterSaveLoadMerge(t *testing.T) {
	dir := t.TempDir()
	m := tinyModel(t, false, false, 17)
	if err := m.Quantize(QuantizeOptions{DoubleQuant: true}); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base")
	if err := m.Save(base); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddLoRA(LoRAConfig{Rank: 4, Alpha: 16, Dropout: 0.1, Targets: []string{"q_proj", "k_proj", "o_proj", "up_proj"}, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 3))
	for _, l := range m.Adapted() {
		d := l.LoRA.B.Data().([]float32)
		for i := range d {
			d[i] = float32(0.05 * r.NormFloat64())
		}
	}
	ids := randomIDs(r, 20, 97)
	want, err := m.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	ad := filepath.Join(dir, "adapter")
	if err := m.SaveAdapter(ad, base); err != nil {
		t.Fatal(err)
	}
	re, err := Load(base, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := re.Logits(ids)
	if e := relErr(plain, want); e < 1e-3 {
		t.Fatalf("the adapters change nothing (%.3g): the test is void", e)
	}
	if err := re.LoadAdapter(ad); err != nil {
		t.Fatal(err)
	}
	got, _ := re.Logits(ids)
	if e := relErr(got, want); e > 1e-6 {
		t.Errorf("reloaded adapters: relative error %.3g", e)
	}
	if n := len(re.Adapted()); n != 8 || re.Adapted()[0].LoRA.Dropout != 0.1 {
		t.Errorf("%d modules adapted, want 8", n)
	}
	merged := filepath.Join(dir, "merged")
	if err := os.MkdirAll(merged, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.MergeFile(context.Background(), filepath.Join(base, WeightsFile), ad, filepath.Join(merged, WeightsFile), checkpoint.MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.WriteModelConfig(filepath.Join(base, "config.json"), filepath.Join(merged, "config.json"), nil); err != nil {
		t.Fatal(err)
	}
	mm, err := Load(merged, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mg, _ := mm.Logits(ids)
	e, e0 := relErr(mg, want), relErr(plain, want)
	if e > 0.5*e0 {
		t.Errorf("merged model is %.3g from the adapted one, the base without adapters %.3g", e, e0)
	}
	t.Logf("merged vs adapted %.3g; base vs adapted %.3g", e, e0)
}

func TestAdapterErrors(t *testing.T) {
	m := tinyModel(t, false, false, 1)
	if err := m.SaveAdapter(t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "no LoRA") {
		t.Errorf("saving no adapters: %v", err)
	}
	a := &checkpoint.Adapter{Rank: 2, Alpha: 4, Layers: []checkpoint.LoRALayer{{Module: "model.layers.9.self_attn.q_proj",
		A: newMatrix(2, 64), B: newMatrix(64, 2)}}}
	if err := m.SetAdapter(a); err == nil || !strings.Contains(err.Error(), "layers.9") {
		t.Errorf("unknown module: %v", err)
	}
	a.Layers[0].Module = "model.layers.0.self_attn.k_proj" // [32 64]
	if err := m.SetAdapter(a); err == nil || !strings.Contains(err.Error(), "do not fit") {
		t.Errorf("shape mismatch: %v", err)
	}
	if _, err := m.AddLoRA(LoRAConfig{Targets: []string{"nope"}}); err == nil {
		t.Error("targets that match nothing accepted")
	}
}
