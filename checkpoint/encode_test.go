package checkpoint

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/nf4go/nf4"
	"gorgonia.org/tensor"
)

// Values that a float dtype cannot hold are errors naming the tensor and
// the first bad row and column, never ±Inf or NaN written with success.
func TestFloatOutputsStayFinite(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	big := scaled(normals(1, 8*64), 3e4) // NF4 keeps the scale: many beyond F16's 65504
	w, _ := nf4.QuantizeFloat32s(big, 8, 64)
	in := writeEntries(t, dir, "big.safetensors", nil, nf4Entries(t, "l.weight", w, F32)...)
	before := treeSnapshot(t, dir)
	_, err := DequantizeFile(ctx, in, filepath.Join(dir, "f16.safetensors"), DequantizeOptions{DType: F16})
	wantErr(t, err, in, `tensor "l.weight"`, "beyond the range of F16", "row 0, column")
	sameTree(t, before, treeSnapshot(t, dir))
	// BF16 holds them.
	if _, err := DequantizeFile(ctx, in, filepath.Join(dir, "bf16.safetensors"), DequantizeOptions{DType: BF16}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "inf.safetensors")
	if _, err := DequantizeFile(ctx, in, out, DequantizeOptions{DType: F16, AllowOverflow: true}); err != nil {
		t.Fatal(err)
	}
	f, _, err := mustOpen(t, out).Float32s("l.weight")
	if err != nil || firstNonFinite(f) < 0 {
		t.Errorf("AllowOverflow wrote no ±Inf (%v)", err)
	}

	// A float base merged with an adapter that pushes it past F16.
	base := writeEntries(t, dir, "f16-base.safetensors", nil, floatEntry("m.proj.weight", F16, []int{8, 64}, normals(2, 8*64)))
	l := loraLayer("m.proj", 3, 2, 8, 64)
	l.B = tensor.New(tensor.WithShape(8, 2), tensor.WithBacking(scaled(normals(4, 16), 1e5)))
	ad := filepath.Join(dir, "adapter")
	if err := SaveAdapter(ad, &Adapter{Rank: 2, Alpha: 4, Layers: []LoRALayer{l}}); err != nil {
		t.Fatal(err)
	}
	before = treeSnapshot(t, dir)
	_, err = MergeFile(ctx, base, ad, filepath.Join(dir, "merged.safetensors"), MergeOptions{})
	wantErr(t, err, base, `tensor "m.proj.weight"`, "merged with", "beyond the range of F16", "at row")
	sameTree(t, before, treeSnapshot(t, dir))

	// An adapter holding a NaN (written by another program: SaveAdapter
	// refuses it) is refused when it is read.
	nan := normals(5, 16)
	nan[5] = float32(math.NaN())
	writeEntries(t, ad, AdapterWeightsFile, nil, floatEntry(peftPrefix+"m.proj.lora_A.weight", F32, []int{2, 64}, l.A.Data().([]float32)),
		floatEntry(peftPrefix+"m.proj.lora_B.weight", F32, []int{8, 2}, nan))
	before = treeSnapshot(t, dir)
	for _, o := range []MergeOptions{{}, {Float: true}} {
		_, err = MergeFile(ctx, base, ad, filepath.Join(dir, "merged.safetensors"), o)
		wantErr(t, err, filepath.Join(ad, AdapterWeightsFile), "lora_B.weight", "row 2, column 1", "not finite")
	}
	sameTree(t, before, treeSnapshot(t, dir))
}

// encodeWeight's thresholds are where the encoders really turn a finite
// value into ±Inf: checked against them around each limit.
func TestOverflowThresholds(t *testing.T) {
	for _, c := range []struct {
		dt    DType
		limit float32
	}{{F16, 65520}, {BF16, math.Float32frombits(0x7f7f8000)}} {
		for _, sign := range []float32{1, -1} {
			for d := int32(-3); d <= 3; d++ {
				v := sign * math.Float32frombits(uint32(int32(math.Float32bits(c.limit))+d))
				enc := EncodeFloats(nil, []float32{v}, c.dt)
				back := make([]float32, 1)
				decodeFloats(back, enc, c.dt)
				inf := math.IsInf(float64(back[0]), 0)
				_, err := encodeWeight("f", "w", []float32{v}, 1, c.dt, false)
				if inf != (err != nil) {
					t.Errorf("%s %v: encodes to %v, error %v", c.dt, v, back[0], err)
				}
			}
		}
	}
}
