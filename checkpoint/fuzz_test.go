package checkpoint

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nf4go/nf4"
)

// FuzzReadCheckpoint: arbitrary bytes never panic the reader, in memory
// or memory-mapped from a file (which must agree); a file it accepts can
// be read tensor by tensor; and the conversions (quantize, dequantize,
// merge, with the bytes as the base or as the adapter's weights) either
// fail, leaving their folder as it was, or write files that read back,
// without touching their input.
func FuzzReadCheckpoint(f *testing.F) {
	f.Add(bnbFile(false))
	f.Add(bnbFile(true))
	f.Add(rawFile(`{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"a":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[0],"data_offsets":[8,8]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"l.weight":{"dtype":"F32","shape":[2,64],"data_offsets":[0,512]}}`, EncodeFloats(nil, normals(1, 128), F32)))
	f.Add(rawFile(`{"base_model.model.l.lora_A.weight":{"dtype":"F32","shape":[2,64],"data_offsets":[0,512]},"base_model.model.l.lora_B.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[512,528]}}`,
		EncodeFloats(nil, normals(2, 132), F32)))
	f.Add([]byte{})
	w, _ := nf4.QuantizeFloat32s(normals(1, 2*32), 2, 32, nf4.WithBlockSize(32), nf4.WithDoubleQuant())
	var es []byte
	for _, e := range nf4Entries(f, "w", w, F16) {
		es = append(es, e.Data...)
	}
	f.Add(es)
	// FP4, double-quantized, 3-D with a partial last block, as a whole file.
	w3, _ := nf4.QuantizeFlat(normals(2, 3*5*7), []int{3, 5, 7}, nf4.WithBlockSize(32), nf4.WithQuantType(nf4.FP4), nf4.WithDoubleQuant())
	path := filepath.Join(f.TempDir(), "fp4.safetensors")
	if err := WriteFile(context.Background(), path, nil, nf4Entries(f, "w", w3, BF16), nil); err != nil {
		f.Fatal(err)
	}
	if b, err := os.ReadFile(path); err == nil {
		f.Add(b)
	}

	// A base and an adapter for its weight l.weight [2, 64], to merge the
	// fuzzed bytes with.
	fixed := f.TempDir()
	base := filepath.Join(fixed, "base.safetensors")
	if err := os.WriteFile(base, bnbFile(true), 0o644); err != nil {
		f.Fatal(err)
	}
	adapter := filepath.Join(fixed, "adapter")
	if err := SaveAdapter(adapter, &Adapter{Rank: 2, Alpha: 4, Layers: []LoRALayer{loraLayer("l", 1, 2, 2, 64)}}); err != nil {
		f.Fatal(err)
	}
	adapterConfig, _ := os.ReadFile(filepath.Join(adapter, AdapterConfigFile))

	f.Fuzz(func(t *testing.T, data []byte) {
		mem, memErr := FromBytes("fuzz", data)
		dir := t.TempDir()
		in := filepath.Join(dir, "in.safetensors")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Open(in)
		if (err == nil) != (memErr == nil) {
			t.Fatalf("Open: %v; FromBytes: %v", err, memErr)
		}
		if err == nil {
			defer c.Close()
			readAll(t, mem)
			readAll(t, c)
			if a, b := mem.Tensors(), c.Tensors(); len(a) != len(b) {
				t.Fatalf("%d tensors in memory, %d mapped", len(a), len(b))
			}
		}

		ctx := context.Background()
		small := len(data)%2 == 0
		convert(t, dir, in, data, "quantize", func(out string) (*Report, error) {
			return QuantizeFile(ctx, in, out, QuantizeOptions{BlockSize: 32, Double: small})
		})
		convert(t, dir, in, data, "dequantize", func(out string) (*Report, error) {
			dt := F16
			if small {
				dt = BF16
			}
			return DequantizeFile(ctx, in, out, DequantizeOptions{DType: dt})
		})
		convert(t, dir, in, data, "merge into", func(out string) (*Report, error) {
			return MergeFile(ctx, in, adapter, out, MergeOptions{Float: small})
		})
		// The bytes as an adapter's weights.
		ad := filepath.Join(dir, "adapter")
		os.Mkdir(ad, 0o755)
		os.WriteFile(filepath.Join(ad, AdapterConfigFile), adapterConfig, 0o644)
		weights := filepath.Join(ad, AdapterWeightsFile)
		if err := os.WriteFile(weights, data, 0o644); err != nil {
			t.Fatal(err)
		}
		convert(t, dir, weights, data, "merge with", func(out string) (*Report, error) {
			return MergeFile(ctx, base, ad, out, MergeOptions{})
		})
	})
}

// readAll reads every tensor of c the way the conversions do.
func readAll(t *testing.T, c *Checkpoint) {
	t.Helper()
	items, err := c.Items()
	if err != nil {
		return
	}
	for _, it := range items {
		if it.NF4 {
			if w, _, err := c.NF4(it.Name); err == nil {
				w.Absmax()
			}
			continue
		}
		if it.Info.DType.IsFloat() {
			c.Float32s(it.Name)
			c.Dense(it.Name)
		}
	}
}

// convert runs a conversion into dir/out.safetensors and checks its
// promises: the input (holding data) is untouched; a failure leaves dir
// as it was; a success writes a file that reads back whole.
func convert(t *testing.T, dir, in string, data []byte, what string, run func(out string) (*Report, error)) {
	t.Helper()
	before := listing(t, dir)
	out := filepath.Join(dir, "out.safetensors")
	rep, err := run(out)
	if now, rerr := os.ReadFile(in); rerr != nil || !bytes.Equal(now, data) {
		t.Fatalf("%s: the input changed (%v)", what, rerr)
	}
	if err != nil {
		if after := listing(t, dir); !slices.Equal(before, after) {
			t.Fatalf("%s failed (%v) but the folder went from %v to %v", what, err, before, after)
		}
		return
	}
	if !slices.Equal(rep.Files, []string{out}) {
		t.Fatalf("%s wrote %v", what, rep.Files)
	}
	c, err := Open(out)
	if err != nil {
		t.Fatalf("%s wrote a file that does not read back: %v", what, err)
	}
	defer c.Close()
	items, err := c.Items()
	if err != nil {
		t.Fatalf("%s wrote a file whose tensors do not read back: %v", what, err)
	}
	for _, it := range items {
		if it.NF4 {
			if _, _, err := c.NF4(it.Name); err != nil {
				t.Fatalf("%s wrote an NF4 weight that does not read back: %v", what, err)
			}
		}
	}
	os.Remove(out)
}

// listing names the files of dir, recursively.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			names = append(names, p)
		}
		return nil
	})
	return names
}
