package checkpoint

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nf4go/nf4"
	"gorgonia.org/tensor"
)

func loraLayer(module string, seed uint64, r, out, in int) LoRALayer {
	return LoRALayer{Module: module,
		A: tensor.New(tensor.WithShape(r, in), tensor.WithBacking(scaled(normals(seed, r*in), 0.1))),
		B: tensor.New(tensor.WithShape(out, r), tensor.WithBacking(scaled(normals(seed+1, out*r), 0.1)))}
}

func scaled(v []float32, s float32) []float32 {
	for i := range v {
		v[i] *= s
	}
	return v
}

func TestAdapterRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "adapter")
	a := &Adapter{Rank: 4, Alpha: 8, Layers: []LoRALayer{loraLayer("model.layers.0.q_proj", 1, 4, 32, 64), loraLayer("model.layers.0.v_proj", 3, 4, 16, 64)}}
	if err := SaveAdapter(dir, a); err != nil {
		t.Fatal(err)
	}
	got, err := LoadAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rank != 4 || got.Alpha != 8 || got.Scale() != 2 || !slices.Equal(got.TargetModules, []string{"q_proj", "v_proj"}) || len(got.Layers) != 2 {
		t.Fatalf("loaded %v, targets %v", got, got.TargetModules)
	}
	for i, l := range got.Layers {
		w := a.Layers[i]
		if l.Module != w.Module || !slices.Equal(l.A.Data().([]float32), w.A.Data().([]float32)) || !slices.Equal(l.B.Data().([]float32), w.B.Data().([]float32)) {
			t.Errorf("layer %d differs", i)
		}
	}
	c := mustOpen(t, filepath.Join(dir, AdapterWeightsFile))
	if info, ok := c.Info("base_model.model.model.layers.0.q_proj.lora_A.weight"); !ok || !slices.Equal(info.Shape, []int{4, 64}) {
		t.Errorf("lora_A stored as %v", info)
	}
	if info, ok := c.Info("base_model.model.model.layers.0.q_proj.lora_B.weight"); !ok || !slices.Equal(info.Shape, []int{32, 4}) {
		t.Errorf("lora_B stored as %v", info)
	}
}

// TestMergeWithinRequantizationBound merges an adapter into NF4 bases
// and checks the merged weight against W + (alpha/r)·B·A in float64.
func TestMergeWithinRequantizationBound(t *testing.T) {
	for _, dq := range []bool{false, true} {
		t.Run(fmt.Sprintf("dq=%v", dq), func(t *testing.T) {
			dir := t.TempDir()
			rows, cols, r := 48, 128, 4
			opts := []nf4.Option{nf4.WithBlockSize(64)}
			if dq {
				opts = append(opts, nf4.WithDoubleQuant())
			}
			w, _ := nf4.QuantizeFloat32s(normals(9, rows*cols), rows, cols, opts...)
			base := writeEntries(t, dir, "base.safetensors", map[string]string{"format": "pt"},
				append(nf4Entries(t, "m.proj.weight", w, F32), floatEntry("m.proj.bias", F32, []int{rows}, normals(8, rows)))...)
			l := loraLayer("m.proj", 20, r, rows, cols)
			ad := filepath.Join(dir, "adapter")
			if err := SaveAdapter(ad, &Adapter{Rank: r, Alpha: 16, Layers: []LoRALayer{l}}); err != nil {
				t.Fatal(err)
			}
			// Reference in float64.
			deq, _ := w.Dequantize()
			ref := make([]float64, rows*cols)
			a, b := l.A.Data().([]float32), l.B.Data().([]float32)
			for n := range rows {
				for k := range cols {
					s := float64(deq.Data().([]float32)[n*cols+k])
					for j := range r {
						s += 4 * float64(b[n*r+j]) * float64(a[j*cols+k])
					}
					ref[n*cols+k] = s
				}
			}
			out := filepath.Join(dir, "merged.safetensors")
			rep, err := MergeFile(context.Background(), base, ad, out, MergeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var st *MergeStats
			for _, s := range rep.Steps {
				if s.Name == "m.proj.weight" {
					st = s.Merge
				}
			}
			if st == nil {
				t.Fatal("no merge statistics")
			}
			merged, _, err := mustOpen(t, out).NF4("m.proj.weight")
			if err != nil {
				t.Fatal(err)
			}
			if merged.BlockSize() != 64 || merged.DoubleQuant() != dq {
				t.Errorf("merged %v", merged)
			}
			got, _ := merged.Dequantize()
			var maxNorm float64
			for blk := 0; blk < rows*cols; blk += 64 {
				var amax float64
				for _, v := range ref[blk : blk+64] {
					amax = math.Max(amax, math.Abs(v))
				}
				for i := blk; i < blk+64; i++ {
					maxNorm = math.Max(maxNorm, math.Abs(float64(got.Data().([]float32)[i])-ref[i])/amax)
				}
			}
			// Half the widest code gap, plus the scales' own 8-bit error under DQ.
			bound := 0.1520
			if dq {
				bound = 0.16
			}
			if maxNorm > bound || st.MaxNorm > bound {
				t.Errorf("normalized merge error %.4f (reported %.4f), bound %.3f", maxNorm, st.MaxNorm, bound)
			}
			if math.Abs(maxNorm-st.MaxNorm) > 1e-4 {
				t.Errorf("reported error %.5f, measured %.5f", st.MaxNorm, maxNorm)
			}
			// Written as float instead: W + update, exactly as MergeFloat computes it.
			fout := filepath.Join(dir, "merged-f32.safetensors")
			if _, err := MergeFile(context.Background(), base, ad, fout, MergeOptions{Float: true}); err != nil {
				t.Fatal(err)
			}
			f, _, err := mustOpen(t, fout).Float32s("m.proj.weight")
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range f {
				if math.Abs(float64(v)-ref[i]) > 1e-5*math.Max(1, math.Abs(ref[i])) {
					t.Fatalf("float merge [%d] = %v, want %v", i, v, ref[i])
				}
			}
		})
	}
}

// TestMergeRefusesMismatchedAdapter: an adapter whose shapes do not fit
// its base, or whose base weight is missing, is an error naming the
// adapter file and tensor; nothing is written.
func TestMergeRefusesMismatchedAdapter(t *testing.T) {
	dir := t.TempDir()
	w, _ := nf4.QuantizeFloat32s(normals(9, 8*64), 8, 64)
	base := writeEntries(t, dir, "base.safetensors", nil, nf4Entries(t, "m.proj.weight", w, F32)...)
	for _, c := range []struct {
		layer LoRALayer
		want  string
	}{
		{loraLayer("m.proj", 1, 2, 16, 64), "but base weight m.proj.weight"},
		{loraLayer("m.proj", 1, 2, 8, 32), "but base weight m.proj.weight"},
		{loraLayer("m.other", 1, 2, 8, 64), "no base weight m.other.weight"},
	} {
		ad := filepath.Join(dir, "adapter-"+c.want[:4])
		os.RemoveAll(ad)
		if err := SaveAdapter(ad, &Adapter{Rank: 2, Alpha: 4, Layers: []LoRALayer{c.layer}}); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, dir)
		_, err := MergeFile(context.Background(), base, ad, filepath.Join(dir, "out.safetensors"), MergeOptions{})
		wantErr(t, err, filepath.Join(ad, AdapterWeightsFile), "base_model.model."+c.layer.Module+".lora_", c.want)
		sameSnapshot(t, before, snapshot(t, dir))
	}
}

func TestLoadAdapterErrors(t *testing.T) {
	dir := t.TempDir()
	if err := SaveAdapter(dir, &Adapter{Rank: 2, Alpha: 4, Layers: []LoRALayer{loraLayer("m", 1, 2, 8, 64)}}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, AdapterConfigFile)
	for _, c := range []struct{ json, want string }{
		{`{"r": 0, "lora_alpha": 4}`, "positive rank"},
		{`{"r": 3, "lora_alpha": 4}`, "do not have rank 3"},
		{`{"r": 2, "lora_alpha": 4, "use_rslora": true}`, "not supported"},
		{`{"r": 2,`, "malformed JSON"},
	} {
		os.WriteFile(cfg, []byte(c.json), 0o644)
		_, err := LoadAdapter(dir)
		wantErr(t, err, dir, c.want)
	}
	// A stray tensor in the adapter file.
	os.WriteFile(cfg, []byte(`{"r": 2, "lora_alpha": 4}`), 0o644)
	writeEntries(t, dir, AdapterWeightsFile, nil, floatEntry("base_model.model.m.lora_A.weight", F32, []int{2, 64}, normals(1, 128)),
		floatEntry("base_model.model.m.lora_B.weight", F32, []int{8, 2}, normals(1, 16)), floatEntry("m.weight", F32, []int{1}, []float32{1}))
	_, err := LoadAdapter(dir)
	wantErr(t, err, AdapterWeightsFile, `tensor "m.weight"`, "not a LoRA weight")
}

// Item: SaveAdapter never writes an adapter that LoadAdapter (and so
// nf4 merge, and the QLoRA example's -load) would refuse: a NaN or Inf
// value (a diverged fine-tune), a float64 value beyond float32's range,
// an alpha of zero, a module without a name. The error names the tensor
// and the place, and nothing is written.
func TestSaveAdapterWritesOnlyWhatLoads(t *testing.T) {
	nan := loraLayer("model.layers.0.q_proj", 1, 2, 8, 64)
	nan.B.Data().([]float32)[2*1+1] = float32(math.NaN())
	wide := loraLayer("model.layers.0.q_proj", 2, 2, 8, 64)
	v := make([]float64, 2*64)
	v[64+3] = 1e300
	wide.A = tensor.New(tensor.WithShape(2, 64), tensor.WithBacking(v))
	for _, c := range []struct {
		a    *Adapter
		want []string
	}{
		{&Adapter{Rank: 2, Alpha: 4, Layers: []LoRALayer{nan}}, []string{"base_model.model.model.layers.0.q_proj.lora_B.weight", "row 1, column 1", "NaN"}},
		{&Adapter{Rank: 2, Alpha: 4, Layers: []LoRALayer{wide}}, []string{"base_model.model.model.layers.0.q_proj.lora_A.weight", "row 1, column 3", "float32"}},
		{&Adapter{Rank: 2, Alpha: 0, Layers: []LoRALayer{loraLayer("m", 1, 2, 8, 64)}}, []string{"alpha"}},
		{&Adapter{Rank: 2, Alpha: 4, Layers: []LoRALayer{loraLayer("", 1, 2, 8, 64)}}, []string{"module", "name"}},
	} {
		dir := t.TempDir()
		wantErr(t, SaveAdapter(filepath.Join(dir, "adapter"), c.a), c.want...)
		if ents, _ := os.ReadDir(filepath.Join(dir, "adapter")); len(ents) != 0 {
			t.Errorf("%v: wrote %d files", c.want, len(ents))
		}
	}
}

// Dropout, task type and base model travel through adapter_config.json.
func TestAdapterConfigFields(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "adapter")
	a := &Adapter{Rank: 2, Alpha: 4, Dropout: 0.05, TaskType: "CAUSAL_LM", BaseModel: "base",
		Layers: []LoRALayer{loraLayer("model.layers.0.q_proj", 1, 2, 8, 64)}}
	if err := SaveAdapter(dir, a); err != nil {
		t.Fatal(err)
	}
	got, err := LoadAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Dropout != 0.05 || got.TaskType != "CAUSAL_LM" || got.BaseModel != "base" {
		t.Errorf("loaded dropout %v, task %q, base %q", got.Dropout, got.TaskType, got.BaseModel)
	}
	a.Dropout = 1
	if err := SaveAdapter(dir, a); err == nil {
		t.Error("dropout 1 saved")
	}
}

// Requantize keeps a base's flat layout, a partial last block included,
// and measures the error over that block too.
func TestRequantizePartialLastBlock(t *testing.T) {
	v := normals(3, 10*100)
	base, err := nf4.QuantizeFlat(v, []int{10, 100})
	if err != nil {
		t.Fatal(err)
	}
	q, st, err := Requantize(scaled(v, 1.5), base)
	if err != nil || !slices.Equal(q.Shape(), base.Shape()) || q.RowAligned() || !(st.MaxNorm > 0 && st.MaxNorm <= 0.152) {
		t.Errorf("requantized %v, %v, %v", q, st, err)
	}
}
