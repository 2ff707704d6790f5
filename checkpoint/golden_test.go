package checkpoint

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/cpu"
)

// The files in testdata/bnb were written by bitsandbytes' own code; their
// README (testdata/bnb/README.md in the shared reference set) says how. Each
// holds the quantized weight in the bitsandbytes layout beside the float32
// input it came from ("input") and what bitsandbytes' dequantize_4bit gives
// for it ("dequantized").

const goldenDir = "testdata/bnb"

type golden struct {
	file   string
	c      *Checkpoint
	weight string // the name of the 4-bit weight
	state  map[string]any
}

func openGolden(t *testing.T, name string) *golden {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	g := &golden{file: name, c: c, weight: c.Metadata["weight"]}
	js, ok := g.tensor(".quant_state.bitsandbytes__nf4")
	if !ok {
		js, _ = g.tensor(".quant_state.bitsandbytes__fp4")
	}
	if err := json.Unmarshal(js, &g.state); err != nil {
		t.Fatalf("%s: quant state: %v", name, err)
	}
	return g
}

// goldenFiles lists the golden files whose names start with prefix.
func goldenFiles(t *testing.T, prefix string) []string {
	t.Helper()
	ents, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) && strings.HasSuffix(e.Name(), ".safetensors") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatalf("no golden files %s* in %s", prefix, goldenDir)
	}
	return names
}

// tensor returns the bytes of the weight's companion with that suffix
// ("" for the packed weight itself).
func (g *golden) tensor(suffix string) ([]byte, bool) {
	b, _, err := g.c.Raw(g.weight + suffix)
	return b, err == nil
}

func (g *golden) floats(t *testing.T, name string) []float32 {
	t.Helper()
	f, _, err := g.c.Float32s(name)
	if err != nil {
		t.Fatalf("%s: %v", g.file, err)
	}
	return f
}

func (g *golden) blockSize() int { return int(g.state["blocksize"].(float64)) }

func (g *golden) shape() []int {
	var s []int
	for _, d := range g.state["shape"].([]any) {
		s = append(s, int(d.(float64)))
	}
	return s
}

// eachKernelSet runs f under every CPU kernel set this machine has.
func eachKernelSet(t *testing.T, f func(t *testing.T)) {
	saved := cpu.Kernels()
	defer cpu.UseKernels(saved)
	for _, k := range cpu.KernelSets() {
		if err := cpu.UseKernels(k); err != nil {
			t.Fatal(err)
		}
		t.Run(k, f)
	}
}

// sameBits reports the first index where two float32 slices differ in
// their bits (the sign of zero included), or -1.
func sameBits(a, b []float32) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

func firstByteDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestGoldenDequantize: reading each file and dequantizing its weight gives
// bitsandbytes' dequantize_4bit bit for bit, the sign of zero included:
// NF4 and FP4, plain and double-quantized scales (negative decoded ones
// too), codes stored as U8, BF16 or F32, blocks spanning rows, a partial
// last block, and 1-D and 3-D weights.
func TestGoldenDequantize(t *testing.T) {
	eachKernelSet(t, func(t *testing.T) {
		for _, name := range goldenFiles(t, "") {
			g := openGolden(t, name)
			w, _, err := g.c.NF4(g.weight)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !slices.Equal(w.Shape(), g.shape()) {
				t.Errorf("%s: shape %v, want %v", name, w.Shape(), g.shape())
			}
			d, err := w.Dequantize()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := d.Data().([]float32)
			want := g.floats(t, "dequantized")
			if i := sameBits(got, want); i >= 0 {
				t.Errorf("%s: value %d is %v, bitsandbytes %v", name, i, got[i], want[i])
			}
			if !slices.Equal(d.Shape(), g.shape()) {
				t.Errorf("%s: dequantized shape %v, want %v", name, d.Shape(), g.shape())
			}
			if g.c.Has("decoded_absmax") {
				if i := sameBits(w.Absmax(), g.floats(t, "decoded_absmax")); i >= 0 {
					t.Errorf("%s: decoded scale %d is %v, bitsandbytes %v", name, i, w.Absmax()[i], g.floats(t, "decoded_absmax")[i])
				}
			}
		}
	})
}

// goldenMaps reads the dynamic 8-bit maps of testdata/bnb/dynamic_map.json
// by name (torch_1_13_1, linspace_plain, linspace_fma, ...).
func goldenMaps(t *testing.T) map[string][256]float32 {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(goldenDir, "dynamic_map.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Maps map[string]struct{ Hex []string } `json:"maps"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][256]float32{}
	for name, m := range doc.Maps {
		var v [256]float32
		if len(m.Hex) != 256 {
			t.Fatalf("map %s has %d entries", name, len(m.Hex))
		}
		for i, h := range m.Hex {
			u, err := strconv.ParseUint(h, 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			v[i] = math.Float32frombits(uint32(u))
		}
		out[name] = v
	}
	return out
}

func float32sOf(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	decodeFloats(out, b, F32)
	return out
}

// TestGoldenQuantize: quantizing each file's input as bitsandbytes did
// (its quant type, block size, shape and double quantization) gives the
// bytes bitsandbytes wrote: the packed codes (whatever dtype the file
// stores them in), absmax or the 8-bit codes (bitsandbytes' CPU install's
// lookup-table codes), nested absmax, code table and quant-state JSON (its
// offset torch's float32 mean). The nested 8-bit map is the one part that
// depends on bitsandbytes' torch build: nf4 writes the fused-linspace map,
// the files hold torch 1.13's; given the file's own map, the codes, nested
// absmax and offset are bitsandbytes' too.
func TestGoldenQuantize(t *testing.T) {
	maps := goldenMaps(t)
	if got := *cpu.DynamicMap(); got != maps["linspace_fma"] {
		t.Errorf("nf4's dynamic map differs from linspace_fma")
	}
	eachKernelSet(t, func(t *testing.T) {
		for _, name := range goldenFiles(t, "") {
			g := openGolden(t, name)
			q, err := cpu.ParseQuantType(g.state["quant_type"].(string))
			if err != nil {
				t.Fatal(err)
			}
			_, double := g.state["nested_offset"]
			opts := []nf4.Option{nf4.WithBlockSize(g.blockSize()), nf4.WithQuantType(q)}
			if double {
				opts = append(opts, nf4.WithDoubleQuant())
			}
			in := g.floats(t, "input")
			w, err := nf4.QuantizeFlat(in, g.shape(), opts...)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, e := range nf4Entries(t, g.weight, w, F32) {
				suffix := strings.TrimPrefix(e.Name, g.weight)
				want, ok := g.tensor(suffix)
				if !ok {
					t.Fatalf("%s: the file has no %s", name, e.Name)
				}
				if suffix == SuffixNestedQuantMap {
					if file := float32sOf(want); [256]float32(file) != maps["torch_1_13_1"] {
						t.Errorf("%s: the file's map is not torch 1.13's", name)
					}
					continue
				}
				if !bytes.Equal(e.Data, want) {
					t.Errorf("%s: %s differs from bitsandbytes' (%d bytes, want %d; first difference at byte %d)", name, e.Name, len(e.Data), len(want), firstByteDiff(e.Data, want))
				}
			}
			if !double {
				continue
			}
			// The same scales with the file's own map.
			fileMap, _ := g.tensor(SuffixNestedQuantMap)
			m := [256]float32(float32sOf(fileMap))
			absmax := make([]float32, (len(in)+g.blockSize()-1)/g.blockSize())
			if err := q.Quantize(make([]byte, (len(in)+1)/2), absmax, in, 1, len(in), g.blockSize()); err != nil {
				t.Fatal(err)
			}
			s := cpu.DoubleQuantizeWithMap(absmax, &m)
			codes, _ := g.tensor(SuffixAbsmax)
			nested, _ := g.tensor(SuffixNestedAbsmax)
			if !bytes.Equal(s.Q, codes) || sameBits(s.Nested, float32sOf(nested)) >= 0 || float64(s.Offset) != g.state["nested_offset"].(float64) {
				t.Errorf("%s: with the file's map the double quantization differs from bitsandbytes'", name)
			}
		}
	})
}
