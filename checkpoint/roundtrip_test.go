package checkpoint

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nf4go/nf4"
)

// TestNF4RoundTrip: float → NF4 file → NF4 → float, at every block size,
// with and without double quantization, through NF4Entries.
func TestNF4RoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, bs := range nf4.BlockSizes() {
		for _, dq := range []bool{false, true} {
			t.Run(fmt.Sprintf("b%d/dq=%v", bs, dq), func(t *testing.T) {
				rows, cols := 3, 2*bs
				if dq && bs == 32 {
					rows = 200 // 1200 blocks: several nested blocks of 256
				}
				opts := []nf4.Option{nf4.WithBlockSize(bs)}
				if dq {
					opts = append(opts, nf4.WithDoubleQuant())
				}
				w, err := nf4.QuantizeFloat32s(normals(uint64(bs), rows*cols), rows, cols, opts...)
				if err != nil {
					t.Fatal(err)
				}
				path := writeEntries(t, dir, fmt.Sprintf("b%d-%v.safetensors", bs, dq), nil,
					append(nf4Entries(t, "layer.weight", w, BF16), floatEntry("layer.bias", F32, []int{rows}, normals(3, rows)))...)
				c, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				got, orig, err := c.NF4("layer.weight")
				if err != nil {
					t.Fatal(err)
				}
				if orig != BF16 || got.Rows() != rows || got.Cols() != cols || got.BlockSize() != bs || got.DoubleQuant() != dq {
					t.Fatalf("read %v (orig %s), want %v (orig BF16)", got, orig, w)
				}
				if !slices.Equal(got.Codes(), w.Codes()) {
					t.Error("codes differ")
				}
				if !slices.Equal(got.Absmax(), w.Absmax()) {
					t.Error("scales differ")
				}
				a, _ := w.Dequantize()
				b, _ := got.Dequantize()
				if !slices.Equal(a.Data().([]float32), b.Data().([]float32)) {
					t.Error("dequantized values differ")
				}
				items, err := c.Items()
				if err != nil {
					t.Fatal(err)
				}
				if len(items) != 2 || !items[0].NF4 || items[0].BlockSize != bs || items[0].Double != dq || items[1].NF4 {
					t.Errorf("items = %+v", items)
				}
			})
		}
	}
}

// TestQuantizeFileRoundTrip quantizes float checkpoints of every float
// dtype through the file API and dequantizes them back.
func TestQuantizeFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rows, cols := 8, 256
	vals := normals(11, rows*cols)
	for _, dt := range []DType{F32, F16, BF16, F64} {
		for _, dq := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/dq=%v", dt, dq), func(t *testing.T) {
				in := writeEntries(t, dir, fmt.Sprintf("in-%s-%v.safetensors", dt, dq), map[string]string{"format": "pt"},
					floatEntry("model.embed_tokens.weight", dt, []int{16, 32}, normals(1, 16*32)),
					floatEntry("model.layers.0.mlp.up_proj.weight", dt, []int{rows, cols}, vals),
					floatEntry("model.layers.0.mlp.up_proj.bias", dt, []int{rows}, normals(2, rows)),
					floatEntry("model.layers.0.odd.weight", dt, []int{4, 40}, normals(3, 160)),
					floatEntry("lm_head.weight", dt, []int{16, 64}, normals(4, 16*64)),
				)
				out := filepath.Join(dir, fmt.Sprintf("q-%s-%v.safetensors", dt, dq))
				rep, err := QuantizeFile(context.Background(), in, out, QuantizeOptions{BlockSize: 64, Double: dq})
				if err != nil {
					t.Fatal(err)
				}
				actions := map[string]string{}
				for _, s := range rep.Steps {
					actions[s.Name] = s.Action
				}
				want := map[string]string{"model.embed_tokens.weight": "copy", "model.layers.0.mlp.up_proj.weight": "nf4",
					"model.layers.0.mlp.up_proj.bias": "copy", "model.layers.0.odd.weight": "skip", "lm_head.weight": "copy"}
				if fmt.Sprint(actions) != fmt.Sprint(want) {
					t.Errorf("actions %v, want %v", actions, want)
				}
				c, err := Open(out)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if c.Metadata["format"] != "pt" {
					t.Errorf("metadata %v not kept", c.Metadata)
				}
				got, orig, err := c.NF4("model.layers.0.mlp.up_proj.weight")
				if err != nil {
					t.Fatal(err)
				}
				if wantOrig := map[DType]DType{F32: F32, F16: F16, BF16: BF16, F64: F32}[dt]; orig != wantOrig {
					t.Errorf("recorded dtype %s, want %s", orig, wantOrig)
				}
				src, _, _ := mustOpen(t, in).Float32s("model.layers.0.mlp.up_proj.weight")
				opts := []nf4.Option{nf4.WithBlockSize(64)}
				if dq {
					opts = append(opts, nf4.WithDoubleQuant())
				}
				ref, _ := nf4.QuantizeFloat32s(src, rows, cols, opts...)
				if !slices.Equal(got.Codes(), ref.Codes()) || !slices.Equal(got.Absmax(), ref.Absmax()) {
					t.Error("file weight differs from quantizing in memory")
				}
				for _, name := range []string{"model.embed_tokens.weight", "model.layers.0.mlp.up_proj.bias", "lm_head.weight"} {
					a, _, _ := c.Raw(name)
					b, _, _ := mustOpen(t, in).Raw(name)
					if !slices.Equal(a, b) {
						t.Errorf("%s not copied unchanged", name)
					}
				}
				// Back to float: equal to dequantizing in memory, in the recorded dtype.
				back := filepath.Join(dir, fmt.Sprintf("dq-%s-%v.safetensors", dt, dq))
				if _, err := DequantizeFile(context.Background(), out, back, DequantizeOptions{DType: F32}); err != nil {
					t.Fatal(err)
				}
				f, info, err := mustOpen(t, back).Float32s("model.layers.0.mlp.up_proj.weight")
				if err != nil {
					t.Fatal(err)
				}
				d, _ := ref.Dequantize()
				if info.DType != F32 || !slices.Equal(f, d.Data().([]float32)) {
					t.Error("dequantized file differs from dequantizing in memory")
				}
				var maxErr float64
				for i, v := range f {
					maxErr = math.Max(maxErr, math.Abs(float64(v-src[i])))
				}
				if maxErr > 0.2*4.5 { // 0.152·absmax; N(0,1) blocks of 64 stay below 4.5
					t.Errorf("round-trip error %v", maxErr)
				}
			})
		}
	}
}

// mustOpen opens a file for a test, closing it at the end.
func mustOpen(t *testing.T, path string) *Checkpoint {
	t.Helper()
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
