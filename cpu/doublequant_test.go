package cpu

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
)

// TestDynamicMapModels: the map is torch ≥ 2.0's fused-linspace map bit
// for bit, and the same construction with separate roundings gives the
// separate-rounding map (dynamic_map.json holds both, from bitsandbytes'
// own code with the two linspace models).
func TestDynamicMapModels(t *testing.T) {
	js, err := os.ReadFile("testdata/dynamic_map.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Maps map[string]struct{ Hex []string } `json:"maps"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	want := func(name string) (m [256]float32) {
		for i, h := range doc.Maps[name].Hex {
			u, _ := strconv.ParseUint(h, 16, 32)
			m[i] = math.Float32frombits(uint32(u))
		}
		return m
	}
	for _, c := range []struct {
		fused bool
		name  string
	}{{true, "linspace_fma"}, {false, "linspace_plain"}} {
		got, w := buildDynamicMap(c.fused), want(c.name)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(w[i]) {
				t.Errorf("%s: entry %d is %v (%08x), want %v (%08x)", c.name, i, got[i], math.Float32bits(got[i]), w[i], math.Float32bits(w[i]))
			}
		}
	}
	if *DynamicMap() != want("linspace_fma") {
		t.Error("DynamicMap is not the fused-linspace map")
	}
}

// goldenAbsmax returns the block-64 absmax of a golden file's input.
func goldenAbsmax(t *testing.T, name string, q QuantType) []float32 {
	t.Helper()
	b, err := os.ReadFile("../checkpoint/testdata/bnb/" + name + ".safetensors")
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	var in struct {
		Offsets []int `json:"data_offsets"`
	}
	if err := json.Unmarshal(h["input"], &in); err != nil {
		t.Fatal(err)
	}
	raw := b[8+n+uint64(in.Offsets[0]) : 8+n+uint64(in.Offsets[1])]
	vals := make([]float32, len(raw)/4)
	for i := range vals {
		vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	absmax := make([]float32, len(vals)/64)
	if err := q.Quantize(make([]byte, len(vals)/2), absmax, vals, 1, len(vals), 64); err != nil {
		t.Fatal(err)
	}
	return absmax
}

// TestTorchMean: the offset is torch's float32 mean in the summation order
// of its 8-lane (AVX2) kernels, as in the golden files; the same cascade at
// 16 lanes gives what torch's AVX-512 kernels give (bitsandbytes' README
// for the files lists those).
func TestTorchMean(t *testing.T) {
	for _, c := range []struct {
		file         string
		q            QuantType
		avx2, avx512 float64
	}{
		{"doublequant_random_normal_b64", NF4, 2.6148550510406494, 2.6148550510406494},
		{"doublequant_negative_scale_b64", NF4, 0.05095085874199867, 0.050950855016708374},
		{"doublequant_partial_nested_b64", NF4, 0.052191492170095444, 0.052191488444805145},
		{"doublequant_equal_absmax_b64", NF4, 1, 1},
		{"storage_bf16_doublequant_b64", NF4, 0.05265767499804497, 0.05265767127275467},
		{"fp4_doublequant_b64", FP4, 0.05170605704188347, 0.05170605704188347},
	} {
		a := goldenAbsmax(t, c.file, c.q)
		if got := torchMean(a); float64(got) != c.avx2 {
			t.Errorf("%s: mean %v, torch (AVX2) %v", c.file, float64(got), c.avx2)
		}
		if got := cascadeSum(a, 16) / float32(len(a)); float64(got) != c.avx512 {
			t.Errorf("%s: 16-lane mean %v, torch (AVX-512) %v", c.file, float64(got), c.avx512)
		}
	}
	// Short rows take the scalar path; long ones pass several levels.
	r := rand.New(rand.NewPCG(41, 42))
	for _, n := range []int{1, 3, 7, 8, 9, 17, 100, 1000, 70000} {
		x := make([]float32, n)
		var exact float64
		for i := range x {
			x[i] = float32(r.Float64() * 3)
			exact += float64(x[i])
		}
		if got := float64(torchMean(x)); math.Abs(got-exact/float64(n)) > 1e-6*exact/float64(n) {
			t.Errorf("n=%d: mean %v, exact %v", n, got, exact/float64(n))
		}
	}
}

// roundTripWeight draws a weight with ordinary, zero, tiny and large
// blocks.
func roundTripWeight(r *rand.Rand, n, b int) []float32 {
	w := make([]float32, n)
	for blk := 0; blk*b < n; blk++ {
		scale := []float32{1, 0.02, 0, 1e-6, 30, 1e-30}[r.IntN(6)]
		for i := blk * b; i < min((blk+1)*b, n); i++ {
			w[i] = scale * float32(r.NormFloat64())
		}
	}
	return w
}

type quantized struct {
	codes []byte
	s     Scales
}

func (a quantized) equal(b quantized) bool {
	return slices.Equal(a.codes, b.codes) && slices.Equal(a.s.Q, b.s.Q) &&
		slices.Equal(a.s.Nested, b.s.Nested) && math.Float32bits(a.s.Offset) == math.Float32bits(b.s.Offset)
}

func doubleQuant(t *testing.T, q QuantType, src []float32, b int) quantized {
	t.Helper()
	codes := make([]byte, (len(src)+1)/2)
	absmax := make([]float32, (len(src)+b-1)/b)
	if err := q.Quantize(codes, absmax, src, 1, len(src), b); err != nil {
		t.Fatal(err)
	}
	s, err := q.DoubleQuantizeFrom(codes, absmax, src, b)
	if err != nil {
		t.Fatal(err)
	}
	return quantized{codes, s}
}

func (a quantized) dequantize(t *testing.T, q QuantType, n, b int) []float32 {
	t.Helper()
	out := make([]float32, n)
	if err := Dequantize(out, &Weights{Rows: 1, Cols: n, BlockSize: b, Codes: a.codes, Scales: a.s, Type: q}); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkStable runs quantize → dequantize → quantize three times and wants
// the same bytes from the second round on, with the second round close to
// the first.
func checkStable(t *testing.T, q QuantType, src []float32, b int) {
	t.Helper()
	n := len(src)
	r1 := doubleQuant(t, q, src, b)
	d1 := r1.dequantize(t, q, n, b)
	r2 := doubleQuant(t, q, d1, b)
	d2 := r2.dequantize(t, q, n, b)
	r3 := doubleQuant(t, q, d2, b)
	if !r3.equal(r2) {
		t.Fatalf("%v B=%d n=%d: the third round differs from the second (offset %v → %v)", q, b, n, r2.s.Offset, r3.s.Offset)
	}
	if d3 := r3.dequantize(t, q, n, b); !slices.Equal(d3, d2) {
		t.Fatalf("%v B=%d: the third round dequantizes differently", q, b)
	}
	// The second round moves each scale by at most half the map's widest
	// step (0.0140625) times its nested absmax, as bitsandbytes' own
	// double quantization does in the first round, so each value by no
	// more. (A block of zero codes keeps its values whatever its scale.)
	for i := range d1 {
		blk := i / b
		bound := 0.00704 * float64(r2.s.Nested[blk/NestedBlockSize]) * (1 + 1e-6)
		if d := math.Abs(float64(d2[i] - d1[i])); d > bound+1e-30 {
			t.Fatalf("%v B=%d: value %d moved from %v to %v in the second round (bound %v)", q, b, i, d1[i], d2[i], bound)
		}
	}
}

func TestDoubleQuantRoundTripStable(t *testing.T) {
	eachVariant(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(43, 44))
		for _, q := range QuantTypes() {
			for _, b := range []int{32, 64, 256} {
				for _, n := range []int{b, 7 * b, 300*b + 40} {
					checkStable(t, q, roundTripWeight(r, n, b), b)
				}
			}
		}
	})
}

// FuzzDoubleQuantRoundTrip: the round trip is stable from the second
// round on for weights drawn from the fuzzer's bytes.
func FuzzDoubleQuantRoundTrip(f *testing.F) {
	f.Add(uint64(1), uint16(700), uint8(0), false)
	f.Add(uint64(2), uint16(64*260), uint8(1), true)
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, shift uint8, fp4 bool) {
		b := 32 << (shift % 3)
		if n == 0 {
			return
		}
		q := NF4
		if fp4 {
			q = FP4
		}
		checkStable(t, q, roundTripWeight(rand.New(rand.NewPCG(seed, 45)), int(n), b), b)
	})
}

// TestDoubleQuantizeFromKeepsBitsandbytes: a weight that is not a 4-bit
// dequantization gets bitsandbytes' double quantization unchanged.
func TestDoubleQuantizeFromKeepsBitsandbytes(t *testing.T) {
	r := rand.New(rand.NewPCG(46, 47))
	src := roundTripWeight(r, 64*512, 64)
	codes := make([]byte, len(src)/2)
	absmax := make([]float32, len(src)/64)
	if err := Quantize(codes, absmax, src, 1, len(src), 64); err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(codes)
	got, err := NF4.DoubleQuantizeFrom(codes, absmax, src, 64)
	if err != nil {
		t.Fatal(err)
	}
	if !(quantized{codes, got}).equal(quantized{before, DoubleQuantize(absmax)}) {
		t.Fatal("a natural weight did not get bitsandbytes' double quantization")
	}
	// Scales whose mean overflows float32 are refused, not turned to NaN.
	huge := []float32{3e38, -3e38, 3e38, 1}
	for len(huge) < 64*8 {
		huge = append(huge, 1)
	}
	c, a := make([]byte, len(huge)/2), make([]float32, len(huge)/64)
	for i := range 8 {
		huge[i*64] = 3e38
	}
	if err := Quantize(c, a, huge, 1, len(huge), 64); err != nil {
		t.Fatal(err)
	}
	if _, err := NF4.DoubleQuantizeFrom(c, a, huge, 64); err == nil {
		t.Fatal("scales of 3e38 double-quantized without an error")
	}
}
