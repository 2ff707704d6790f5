package cpu

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestQuantizeHandBuilt(t *testing.T) {
	const B = 32
	src := make([]float32, 3*B)
	// Block 0: every code value scaled by 2, ascending then descending.
	for i := range 16 {
		src[i] = 2 * Codebook[i]
		src[16+i] = 2 * Codebook[15-i]
	}
	// Block 1: zeros. Block 2: one value at -absmax, the rest tiny.
	src[2*B] = -3
	for i := 1; i < B; i++ {
		src[2*B+i] = 1e-9
	}
	codes := make([]byte, len(src)/2)
	absmax := make([]float32, 3)
	if err := Quantize(codes, absmax, src, 1, 3*B, B); err != nil {
		t.Fatal(err)
	}
	if absmax[0] != 2 || absmax[1] != 0 || absmax[2] != 3 {
		t.Fatalf("absmax = %v, want [2 0 3]", absmax)
	}
	code := func(i int) uint8 { return codes[i/2] >> (4 * (i % 2)) & 15 }
	for i := range 16 {
		if code(i) != uint8(i) || code(16+i) != uint8(15-i) {
			t.Fatalf("block 0 element %d: codes %d/%d, want %d/%d", i, code(i), code(16+i), i, 15-i)
		}
	}
	for i := B; i < 2*B; i++ {
		if code(i) != ZeroCode {
			t.Fatalf("zero block element %d has code %d", i, code(i))
		}
	}
	if code(2*B) != 0 || code(2*B+1) != ZeroCode {
		t.Fatalf("block 2 codes %d, %d; want 0 and %d", code(2*B), code(2*B+1), ZeroCode)
	}
	out := make([]float32, len(src))
	w := &Weights{Rows: 1, Cols: 3 * B, BlockSize: B, Codes: codes, Scales: Scales{Absmax: absmax}}
	if err := Dequantize(out, w); err != nil {
		t.Fatal(err)
	}
	for i := range 2 * B {
		if out[i] != src[i] {
			t.Fatalf("element %d: %v dequantized to %v", i, src[i], out[i])
		}
	}
}

func TestQuantizeRejects(t *testing.T) {
	src := make([]float32, 4*64)
	for i := range src {
		src[i] = float32(i%7) - 3
	}
	src[2*64+70] = float32(math.NaN())
	codes, absmax := make([]byte, len(src)/2), make([]float32, len(src)/64)
	err := Quantize(codes, absmax, src, 4, 64, 64)
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Row != 3 || nf.Block != 0 || nf.Col != 6 {
		t.Fatalf("NaN at row 3, col 6: got %v", err)
	}
	src[2*64+70] = float32(math.Inf(-1))
	if err := Quantize(codes, absmax, src, 2, 128, 64); !errors.As(err, &nf) || nf.Row != 1 || nf.Block != 1 {
		t.Fatalf("-Inf at row 1, block 1: got %v", err)
	}
	src[2*64+70] = 0
	for _, c := range []struct{ rows, cols, b int }{{4, 64, 48}, {4, 64, 16}, {4, 64, 8192}, {2, 100, 64}, {0, 256, 64}, {-1, -256, 64}, {8, 31, 64}} {
		if err := Quantize(codes, absmax, src, c.rows, c.cols, c.b); err == nil {
			t.Errorf("shape %v accepted", c)
		}
	}
	if err := Quantize(codes[1:], absmax, src, 4, 64, 64); err == nil {
		t.Error("short codes accepted")
	}
}

// floatsFrom reads a fuzzer's bytes as little-endian float32s (any bit
// pattern: NaNs, infinities, denormals), dropping a partial last one.
func floatsFrom(raw []byte) []float32 {
	vals := make([]float32, len(raw)/4)
	for i := range vals {
		vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return vals
}

func randomWeights(t testing.TB, r *rand.Rand, rows, cols, b int, double bool) (*Weights, []float32) {
	return randomWeightsOf(t, NF4, r, rows, cols, b, double)
}

func randomWeightsOf(t testing.TB, q QuantType, r *rand.Rand, rows, cols, b int, double bool) (*Weights, []float32) {
	src := make([]float32, rows*cols)
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	w := &Weights{Rows: rows, Cols: cols, BlockSize: b, Codes: make([]byte, (rows*cols+1)/2), Type: q}
	absmax := make([]float32, (rows*cols+b-1)/b)
	if err := q.Quantize(w.Codes, absmax, src, rows, cols, b); err != nil {
		t.Fatal(err)
	}
	w.Scales = Scales{Absmax: absmax}
	if double {
		w.Scales = DoubleQuantize(absmax)
	}
	return w, src
}

// C-NF4-001: on N(0,1) data the round trip is within half the largest code
// gap of the block's absmax, and about 0.02 on average.
func TestRoundTripError(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, b := range []int{32, 64, 128, 256, 1024, 4096} {
		w, src := randomWeights(t, r, 64, 4096, b, false)
		out := make([]float32, len(src))
		if err := Dequantize(out, w); err != nil {
			t.Fatal(err)
		}
		var worst, sum float64
		for i := range src {
			e := math.Abs(float64(out[i])-float64(src[i])) / float64(w.Scales.Absmax[i/b])
			worst = max(worst, e)
			sum += e
		}
		mean := sum / float64(len(src))
		if worst > 0.152 || mean < 0.01 || mean > 0.03 {
			t.Errorf("block %d: max normalized error %.4f (≤ 0.152), mean %.4f (≈ 0.02)", b, worst, mean)
		}
	}
}

func TestDynamicMap(t *testing.T) {
	m := DynamicMap()
	if m[0] != -m[254] || m[254] >= 1 || m[255] != 1 {
		t.Fatalf("ends of the map: %v %v %v", m[0], m[254], m[255])
	}
	zeros := 0
	for i := range m {
		if i > 0 && m[i] <= m[i-1] {
			t.Fatalf("map not ascending at %d: %v, %v", i, m[i-1], m[i])
		}
		if m[i] == 0 {
			zeros++
		}
	}
	if zeros != 1 || math.Abs(float64(m[0])+0.99297) > 1e-4 {
		t.Fatalf("zeros %d, smallest %v", zeros, m[0])
	}
}

func TestDoubleQuantizedScales(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	absmax := make([]float32, 1<<16)
	for i := range absmax {
		absmax[i] = float32(2 + r.Float64())
	}
	s := DoubleQuantize(absmax)
	if err := s.check(len(absmax)); err != nil {
		t.Fatal(err)
	}
	for i, a := range absmax {
		// The 8-bit map is dense near ±1 to ~1/127 of the nested absmax.
		if d := math.Abs(float64(s.At(i) - a)); d > float64(s.Nested[i/256])/60 {
			t.Fatalf("scale %d: %v decoded as %v", i, a, s.At(i))
		}
	}
	if s.Bytes() >= 4*len(absmax)/3 {
		t.Fatalf("double-quantized scales take %d bytes for %d blocks", s.Bytes(), len(absmax))
	}
}

func refLinear(w *Weights, x []float64, m int, backward bool) []float64 {
	d := make([]float64, w.Rows*w.Cols)
	if err := Dequantize64(d, w); err != nil {
		panic(err)
	}
	N, K := w.Rows, w.Cols
	if !backward {
		out := make([]float64, m*N)
		for i := range m {
			for n := range N {
				var s float64
				for k := range K {
					s += x[i*K+k] * d[n*K+k]
				}
				out[i*N+n] = s
			}
		}
		return out
	}
	out := make([]float64, m*K)
	for i := range m {
		for n := range N {
			for k := range K {
				out[i*K+k] += x[i*N+n] * d[n*K+k]
			}
		}
	}
	return out
}

func relErr[T float](got []T, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	return math.Sqrt(num / den)
}

func TestLinearMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	shapes := []struct{ n, k, b int }{{1, 64, 64}, {3, 32, 32}, {65, 128, 64}, {130, 640, 128}, {7, 4096, 4096}, {200, 1024, 64}}
	for _, sh := range shapes {
		for _, double := range []bool{false, true} {
			w, _ := randomWeights(t, r, sh.n, sh.k, sh.b, double)
			for _, m := range []int{1, 2, 5, 8, 9, 17, 70} {
				for _, backward := range []bool{false, true} {
					in, outLen := sh.k, sh.n
					if backward {
						in, outLen = sh.n, sh.k
					}
					x, x64 := randomInput(r, m*in, 0)
					want := refLinear(w, x64, m, backward)
					out := make([]float32, m*outLen)
					out64 := make([]float64, m*outLen)
					for i := range out {
						out[i] = float32(math.NaN())
						out64[i] = math.NaN()
					}
					var err, err64 error
					if backward {
						err, err64 = LinearBackward(out, x, m, w), LinearBackward64(out64, x64, m, w)
					} else {
						err, err64 = Linear(out, x, m, w), Linear64(out64, x64, m, w)
					}
					if err != nil || err64 != nil {
						t.Fatal(err, err64)
					}
					if e := relErr(out, want); !(e <= 1e-5) {
						t.Errorf("N=%d K=%d B=%d double=%v M=%d backward=%v: float32 error %.2e", sh.n, sh.k, sh.b, double, m, backward, e)
					}
					if e := relErr(out64, want); !(e <= 1e-7) {
						t.Errorf("N=%d K=%d B=%d double=%v M=%d backward=%v: float64 error %.2e", sh.n, sh.k, sh.b, double, m, backward, e)
					}
				}
			}
		}
	}
}

func TestLinearRejects(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	w, _ := randomWeights(t, r, 4, 64, 64, false)
	if err := Linear(make([]float32, 8), make([]float32, 2*63), 2, w); err == nil {
		t.Error("short x accepted")
	}
	if err := Linear(make([]float32, 7), make([]float32, 2*64), 2, w); err == nil {
		t.Error("short out accepted")
	}
	if err := LinearBackward(make([]float32, 0), make([]float32, 0), 0, w); err == nil {
		t.Error("empty batch accepted")
	}
	bad := *w
	bad.Scales = Scales{Absmax: w.Scales.Absmax[1:]}
	if err := Linear(make([]float32, 4), make([]float32, 64), 1, &bad); err == nil {
		t.Error("missing scale accepted")
	}
}

// FuzzQuantize checks the round-trip bound (C-NF4-001, for scales of at
// least 1e-38) and the error location on fuzzed values in full blocks.
func FuzzQuantize(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 0}, uint8(0))
	f.Add(make([]byte, 4*64), uint8(1))
	f.Fuzz(func(t *testing.T, raw []byte, shift uint8) {
		b := 32 << (shift % 8)
		vals := floatsFrom(raw)
		cols := b
		rows := len(vals) / cols
		if rows == 0 {
			rows, cols = 1, b
			vals = append(vals, make([]float32, b-len(vals))...)
		}
		vals = vals[:rows*cols]
		codes, absmax := make([]byte, len(vals)/2), make([]float32, len(vals)/b)
		err := Quantize(codes, absmax, vals, rows, cols, b)
		bad := -1
		for i, v := range vals {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				bad = i
				break
			}
		}
		if bad >= 0 {
			var nf *NonFiniteError
			if !errors.As(err, &nf) || nf.Row != bad/cols || nf.Col != bad%cols {
				t.Fatalf("non-finite at %d: got %v", bad, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, len(vals))
		if err := Dequantize(out, &Weights{Rows: rows, Cols: cols, BlockSize: b, Codes: codes, Scales: Scales{Absmax: absmax}}); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			a := float64(absmax[i/b])
			// C-NF4-001 holds for normal scales. Below 1e-38 bitsandbytes'
			// clamp scales by 1e38 instead of 1/absmax, so values round
			// toward zero, but never past it.
			bound := 0.152 * a * (1 + 1e-6)
			if absmax[i/b] < MinScale {
				bound = a
			}
			if e := math.Abs(float64(out[i]) - float64(v)); e > bound {
				t.Fatalf("element %d: %v came back as %v (absmax %v)", i, v, out[i], a)
			}
		}
	})
}
