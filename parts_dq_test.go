package nf4

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/nf4go/nf4/cpu"
)

func TestFromDoubleQuantPartsRoundTrip(t *testing.T) {
	data := make([]float32, 40*64)
	for i := range data {
		data[i] = float32(math.Sin(float64(i))) * float32(1+i%5)
	}
	w, err := QuantizeFloat32s(data, 40, 64, WithBlockSize(32), WithDoubleQuant())
	if err != nil {
		t.Fatal(err)
	}
	s := w.Weights().Scales
	got, err := FromDoubleQuantParts(40, 64, 32, w.Codes(), s.Q, s.Nested, s.Offset, s.Map[:])
	if err != nil {
		t.Fatal(err)
	}
	if !got.DoubleQuant() || !slices.Equal(got.Absmax(), w.Absmax()) || !slices.Equal(got.Codes(), w.Codes()) {
		t.Error("parts do not rebuild the tensor")
	}
	if &got.Weights().Codes[0] == &w.Codes()[0] {
		t.Error("codes not copied")
	}
}

func TestFromDoubleQuantPartsErrors(t *testing.T) {
	dyn := cpu.DynamicMap()
	codes := make([]byte, 2*64/2)
	ok := func() (q []uint8, nested []float32, offset float32, qmap []float32) {
		return []uint8{255, 255}, []float32{1}, 0.5, append([]float32(nil), dyn[:]...)
	}
	for _, c := range []struct {
		name string
		edit func(q *[]uint8, nested *[]float32, offset *float32, qmap *[]float32)
		want string
	}{
		{"short map", func(_ *[]uint8, _ *[]float32, _ *float32, m *[]float32) { *m = (*m)[:255] }, "want 256"},
		{"NaN in map", func(_ *[]uint8, _ *[]float32, _ *float32, m *[]float32) { (*m)[3] = float32(math.NaN()) }, "entry 3"},
		{"Inf nested", func(_ *[]uint8, n *[]float32, _ *float32, _ *[]float32) { (*n)[0] = float32(math.Inf(-1)) }, "nested scale 0"},
		{"Inf offset", func(_ *[]uint8, _ *[]float32, o *float32, _ *[]float32) { *o = float32(math.Inf(1)) }, "offset"},
		{"too few codes", func(q *[]uint8, _ *[]float32, _ *float32, _ *[]float32) { *q = (*q)[:1] }, "want one per block"},
		{"too many nested", func(_ *[]uint8, n *[]float32, _ *float32, _ *[]float32) { *n = []float32{1, 1} }, "nested scales"},
		{"overflowing decoded scale", func(_ *[]uint8, n *[]float32, o *float32, _ *[]float32) { (*n)[0], *o = 3e38, 3e38 }, "row 0, block 0"},
	} {
		q, n, o, m := ok()
		c.edit(&q, &n, &o, &m)
		_, err := FromDoubleQuantParts(2, 64, 64, codes, q, n, o, m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
	q, n, o, m := ok()
	if _, err := FromDoubleQuantParts(2, 64, 64, codes, q, n, o, m); err != nil {
		t.Errorf("valid parts: %v", err)
	}
}

// TestNegativeDecodedScales: a decoded scale below zero (a near-zero block
// beside large ones, as double quantization makes them) and a negative
// nested scale are data, not errors: they decode as bitsandbytes decodes
// them, value = code·scale.
func TestNegativeDecodedScales(t *testing.T) {
	dyn := cpu.DynamicMap()
	codes := make([]byte, 2*64/2)
	for i := range codes {
		codes[i] = byte(i)
	}
	w, err := FromDoubleQuantParts(2, 64, 64, codes, []uint8{255, 0}, []float32{-0.25}, 0.125, dyn[:])
	if err != nil {
		t.Fatal(err)
	}
	s := w.Absmax()
	want := []float32{-0.25 + 0.125, float32(dyn[0]*-0.25) + 0.125}
	if !slices.Equal(s, want) || s[0] >= 0 {
		t.Fatalf("decoded scales %v, want %v", s, want)
	}
	out := make([]float32, 128)
	if err := w.DequantizeInto(out); err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		c := codes[i/2] >> (4 * (i % 2)) & 15
		if v != Codebook[c]*s[i/64] {
			t.Fatalf("value %d: %v, want %v", i, v, Codebook[c]*s[i/64])
		}
	}
	p, err := FromParts(1, 64, 64, codes[:32], []float32{-3})
	if err != nil || p.Absmax()[0] != -3 {
		t.Fatalf("plain negative scale: %v", err)
	}
}
