package nf4_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nf4go/nf4"
	"gorgonia.org/tensor"
)

// TestFP4RoundTrip: FP4 tensors quantize to the FP4 table, decode through
// it, and stay within half its widest gap (1/6 of the block's absmax),
// plain and double-quantized, for every block size.
func TestFP4RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	const rows, cols = 9, 4096
	src := randomMatrix(r, rows, cols)
	table := nf4.FP4.Values()
	for _, b := range nf4.BlockSizes() {
		for _, dq := range []bool{false, true} {
			opts := []nf4.Option{nf4.WithBlockSize(b), nf4.WithQuantType(nf4.FP4)}
			if dq {
				opts = append(opts, nf4.WithDoubleQuant())
			}
			w, err := nf4.QuantizeFloat32s(src, rows, cols, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if w.QuantType() != nf4.FP4 || !strings.HasPrefix(w.String(), "FP4[9×4096]") {
				t.Fatalf("tensor %v, type %v", w, w.QuantType())
			}
			out := make([]float32, rows*cols)
			if err := w.DequantizeInto(out); err != nil {
				t.Fatal(err)
			}
			scales, codes := w.Absmax(), w.Codes()
			plain, _ := nf4.QuantizeFloat32s(src, rows, cols, nf4.WithBlockSize(b), nf4.WithQuantType(nf4.FP4))
			absmax := plain.Absmax()
			var worst float64
			for i, v := range out {
				c := codes[i/2] >> (4 * (i % 2)) & 15
				if v != table[c]*scales[i/b] {
					t.Fatalf("B=%d dq=%v: value %d is %v, want table[%d]·scale = %v", b, dq, i, v, c, table[c]*scales[i/b])
				}
				worst = max(worst, math.Abs(float64(v-src[i]))/float64(absmax[i/b]))
			}
			limit := 1.0 / 6
			if dq {
				limit += 0.01
			}
			if worst > limit*(1+1e-6) {
				t.Errorf("B=%d dq=%v: max normalized error %.4f, limit %.4f", b, dq, worst, limit)
			}
		}
	}
}

// TestFP4Products: the engine's products and their gradients on FP4
// weights match float64 references on the dequantized weight.
func TestFP4Products(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	e := newEngine(t)
	for _, sh := range []struct{ n, k, b int }{{1, 64, 64}, {70, 96, 32}, {33, 512, 128}} {
		for _, dq := range []bool{false, true} {
			opts := []nf4.Option{nf4.WithBlockSize(sh.b), nf4.WithQuantType(nf4.FP4)}
			if dq {
				opts = append(opts, nf4.WithDoubleQuant())
			}
			w, err := nf4.QuantizeFloat32s(randomMatrix(r, sh.n, sh.k), sh.n, sh.k, opts...)
			if err != nil {
				t.Fatal(err)
			}
			wd := make([]float32, sh.n*sh.k)
			if err := w.DequantizeInto(wd); err != nil {
				t.Fatal(err)
			}
			for _, m := range []int{1, 5, 17} {
				xv := randomMatrix(r, m, sh.k)
				y, err := e.Linear(tensor.New(tensor.WithShape(m, sh.k), tensor.WithBacking(xv)), w)
				if err != nil {
					t.Fatal(err)
				}
				if err := normwise(t, y.Data(), matmulT64(widen(xv), wd, m, sh.n, sh.k)); err > 1e-5 {
					t.Errorf("N=%d K=%d M=%d dq=%v: forward error %.2e", sh.n, sh.k, m, dq, err)
				}
				dy := randomMatrix(r, m, sh.n)
				dx, err := e.LinearBackward(tensor.New(tensor.WithShape(m, sh.n), tensor.WithBacking(dy)), w)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]float64, m*sh.k)
				for i := range m {
					for n := range sh.n {
						for k := range sh.k {
							want[i*sh.k+k] += float64(dy[i*sh.n+n]) * float64(wd[n*sh.k+k])
						}
					}
				}
				if err := normwise(t, dx.Data(), want); err > 1e-5 {
					t.Errorf("N=%d K=%d M=%d dq=%v: backward error %.2e", sh.n, sh.k, m, dq, err)
				}
			}
		}
	}
	if _, err := nf4.QuantizeFloat32s(make([]float32, 64), 1, 64, nf4.WithQuantType(nf4.QuantType(9))); err == nil {
		t.Error("an unknown code table was accepted")
	}
}

// TestFlatLayouts: tensors of any shape, with blocks spanning rows and a
// partial last block, quantize as bitsandbytes does, dequantize to their
// shape, rebuild from their parts, and are refused by the products with a
// message that says how to re-block.
func TestFlatLayouts(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	e := newEngine(t)
	for _, shape := range [][]int{{4096}, {4, 32, 64}, {10, 100}, {64, 96}, {3, 5, 7, 11}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		src := randomMatrix(r, 1, n)
		for _, q := range []nf4.QuantType{nf4.NF4, nf4.FP4} {
			w, err := nf4.QuantizeFlat(src, shape, nf4.WithQuantType(q), nf4.WithDoubleQuant())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(w.Shape(), shape) {
				t.Fatalf("%v: shape %v", shape, w.Shape())
			}
			d, err := w.Dequantize()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Shape(), shape) {
				t.Fatalf("%v: dequantized shape %v", shape, d.Shape())
			}
			// The rule, applied over the flattened values.
			codes, absmax := make([]byte, (n+1)/2), make([]float32, (n+63)/64)
			if err := q.Quantize(codes, absmax, src, 1, n, 64); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(w.Codes(), codes) {
				t.Fatalf("%v %v: codes differ from the flat rule", shape, q)
			}
			back, err := nf4.Assemble(w.Parts())
			if err != nil || !slices.Equal(back.Codes(), w.Codes()) || !slices.Equal(back.Absmax(), w.Absmax()) || !slices.Equal(back.Shape(), shape) {
				t.Fatalf("%v: parts do not rebuild the tensor: %v", shape, err)
			}
			if w.RowAligned() {
				continue
			}
			cols := shape[len(shape)-1]
			x := tensor.New(tensor.WithShape(1, cols), tensor.WithBacking(make([]float32, cols)))
			if _, err := e.Linear(x, w); err == nil || !strings.Contains(err.Error(), "re-block") && !strings.Contains(err.Error(), "dequantized") {
				t.Errorf("%v: a product on blocks spanning rows gave %v", shape, err)
			}
			if !strings.Contains(w.String(), "blocks span rows") {
				t.Errorf("%v: String %q does not say the blocks span rows", shape, w)
			}
		}
	}
	if _, err := nf4.QuantizeFloat32s(make([]float32, 1000), 10, 100); err == nil {
		t.Error("QuantizeFloat32s took K=100 with blocks of 64")
	}
	for _, shape := range [][]int{{}, {0, 64}, {-1}} {
		if _, err := nf4.QuantizeFlat(make([]float32, 64), shape); err == nil {
			t.Errorf("shape %v accepted", shape)
		}
	}
}
