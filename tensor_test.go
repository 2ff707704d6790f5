package nf4_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nf4go/nf4"
	"gorgonia.org/tensor"
)

// C-NF4-001 through the public API, for every block size, both scale forms.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const rows, cols = 33, 4096
	src := randomMatrix(r, rows, cols)
	for _, b := range nf4.BlockSizes() {
		for _, dq := range []bool{false, true} {
			opts := []nf4.Option{nf4.WithBlockSize(b)}
			if dq {
				opts = append(opts, nf4.WithDoubleQuant())
			}
			w, err := nf4.QuantizeFloat32s(src, rows, cols, opts...)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, rows*cols)
			for i := range out {
				out[i] = float32(math.NaN())
			}
			if err := w.DequantizeInto(out); err != nil {
				t.Fatal(err)
			}
			plain, _ := nf4.QuantizeFloat32s(src, rows, cols, nf4.WithBlockSize(b))
			absmax := plain.Absmax()
			var worst, sum float64
			for i := range src {
				e := math.Abs(float64(out[i]-src[i])) / float64(absmax[i/b])
				worst, sum = max(worst, e), sum+e
			}
			mean := sum / float64(len(src))
			limit := 0.152
			if dq {
				limit = 0.152 + 0.01 // the 8-bit scales add under 1% of absmax
			}
			if worst > limit || mean < 0.01 || mean > 0.03 {
				t.Errorf("B=%d dq=%v: max normalized error %.4f (limit %.3f), mean %.4f", b, dq, worst, limit, mean)
			}
			if dq && !equalBytes(w.Codes(), plain.Codes()) {
				t.Errorf("B=%d: double quantization changed the codes", b)
			}
		}
	}
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

// C-NF4-004: at least 7.1× smaller than float32, 7.7× with double quantization.
func TestCompression(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	src := randomMatrix(r, 512, 512)
	w, _ := nf4.QuantizeFloat32s(src, 512, 512)
	dq, _ := nf4.QuantizeFloat32s(src, 512, 512, nf4.WithDoubleQuant())
	if w.Bytes() != 512*512/2+4*512*512/64 {
		t.Errorf("Bytes = %d", w.Bytes())
	}
	if w.CompressionRatio() < 7.1 || dq.CompressionRatio() < 7.7 {
		t.Errorf("compression %.3f (≥7.1), double-quantized %.3f (≥7.7)", w.CompressionRatio(), dq.CompressionRatio())
	}
	s := dq.String()
	for _, want := range []string{"NF4[512×512]", "block 64", "double-quantized", "KiB", "× smaller"} {
		if !strings.Contains(s, want) {
			t.Errorf("String %q lacks %q", s, want)
		}
	}
}

func TestQuantizeDense(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	src := randomMatrix(r, 8, 128)
	f32 := tensor.New(tensor.WithShape(8, 128), tensor.WithBacking(src))
	f64 := tensor.New(tensor.WithShape(8, 128), tensor.WithBacking(widen(src)))
	a, err := nf4.Quantize(f32)
	if err != nil {
		t.Fatal(err)
	}
	b, err := nf4.Quantize(f64)
	if err != nil {
		t.Fatal(err)
	}
	if !equalBytes(a.Codes(), b.Codes()) {
		t.Error("float32 and float64 sources give different codes")
	}
	// A transposed view is quantized as the matrix it shows.
	tr := tensor.New(tensor.WithShape(128, 8), tensor.WithBacking(append([]float32(nil), src...)))
	if err := tr.T(); err != nil {
		t.Fatal(err)
	}
	c, err := nf4.Quantize(tr)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rows() != 8 || c.Cols() != 128 {
		t.Fatalf("transposed view quantized as %v", c.Shape())
	}
	d, err := a.Dequantize()
	if err != nil || !d.Shape().Eq(tensor.Shape{8, 128}) || d.Dtype() != tensor.Float32 {
		t.Fatalf("Dequantize: %v %v", d, err)
	}
}

func TestBadInput(t *testing.T) {
	good := make([]float32, 4*64)
	for i := range good {
		good[i] = float32(i%5) - 2
	}
	cases := map[string]func() error{
		"K not a multiple of B": func() error { _, err := nf4.QuantizeFloat32s(good, 2, 128, nf4.WithBlockSize(256)); return err },
		"block size 48":         func() error { _, err := nf4.QuantizeFloat32s(good, 4, 64, nf4.WithBlockSize(48)); return err },
		"block size 8192":       func() error { _, err := nf4.QuantizeFloat32s(good, 4, 64, nf4.WithBlockSize(8192)); return err },
		"length mismatch":       func() error { _, err := nf4.QuantizeFloat32s(good[1:], 4, 64); return err },
		"zero rows":             func() error { _, err := nf4.QuantizeFloat32s(nil, 0, 64); return err },
		"nil dense":             func() error { _, err := nf4.Quantize(nil); return err },
		"3-D dense": func() error {
			_, err := nf4.Quantize(tensor.New(tensor.WithShape(2, 2, 64), tensor.WithBacking(good)))
			return err
		},
		"int dtype": func() error {
			_, err := nf4.Quantize(tensor.New(tensor.WithShape(2, 64), tensor.WithBacking(make([]int, 128))))
			return err
		},
		"short destination": func() error {
			w, _ := nf4.QuantizeFloat32s(good, 4, 64)
			return w.DequantizeInto(make([]float32, 10))
		},
		"nil tensor": func() error { var w *nf4.Tensor; _, err := w.Dequantize(); return err },
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	bad := append([]float32(nil), good...)
	bad[2*64+65] = float32(math.Inf(1))
	_, err := nf4.QuantizeFloat32s(bad, 2, 128)
	var nf *nf4.NonFiniteError
	if !errors.As(err, &nf) || nf.Row != 1 || nf.Block != 1 || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("Inf at row 1, block 1: %v", err)
	}
}

func TestPackedBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	src := randomMatrix(r, 3, 192)
	w, _ := nf4.QuantizeFloat32s(src, 3, 192)
	p, err := w.PackedBlocks()
	if err != nil || len(p) != 9*36 {
		t.Fatalf("PackedBlocks: %d bytes, %v", len(p), err)
	}
	back, err := nf4.FromPackedBlocks(p, 3, 192)
	if err != nil {
		t.Fatal(err)
	}
	if !equalBytes(back.Codes(), w.Codes()) || back.Absmax()[4] != w.Absmax()[4] {
		t.Fatal("packed round trip changed the tensor")
	}
	if _, err := nf4.FromPackedBlocks(p[:len(p)-1], 3, 192); err == nil {
		t.Error("truncated blocks accepted")
	}
	p[36*5+2], p[36*5+3] = 0xff, 0xff // block 5 (row 1, block 2) gets a NaN scale
	if _, err := nf4.FromPackedBlocks(p, 3, 192); err == nil || !strings.Contains(err.Error(), "row 1, block 2") {
		t.Errorf("NaN scale: %v", err)
	}
	w128, _ := nf4.QuantizeFloat32s(src, 3, 192, nf4.WithBlockSize(32))
	if _, err := w128.PackedBlocks(); err == nil {
		t.Error("block size 32 exported as 64-value blocks")
	}
}

func FuzzFromPackedBlocks(f *testing.F) {
	w, _ := nf4.QuantizeFloat32s(randomMatrix(rand.New(rand.NewPCG(1, 1)), 2, 64), 2, 64)
	p, _ := w.PackedBlocks()
	f.Add(p, 2, 64)
	f.Add(p[:40], 1, 64)
	f.Fuzz(func(t *testing.T, data []byte, rows, cols int) {
		w, err := nf4.FromPackedBlocks(data, rows, cols)
		if err != nil {
			return
		}
		if len(data) != rows*cols/64*36 {
			t.Fatalf("accepted %d bytes for [%d %d]", len(data), rows, cols)
		}
		out := make([]float32, rows*cols)
		if err := w.DequantizeInto(out); err != nil {
			t.Fatal(err)
		}
		for i, v := range out {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("value %d is %v", i, v)
			}
		}
		again, err := w.PackedBlocks()
		if err != nil || string(again) != string(data) {
			t.Fatal("re-export differs")
		}
	})
}
