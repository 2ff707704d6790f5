//go:build amd64 && !purego

package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// avx512Under returns the AVX-512 set these tests hold to the pure-Go
// twin: the native one where this CPU runs it, else (saying so) the same
// assembly run in the simulator, so the tests run on every machine.
func avx512Under(t testing.TB) *vecKernels {
	if hasAVX512() {
		return avx512
	}
	t.Logf("NOT RUN NATIVELY: this CPU lacks AVX512F/BW/VL, so the avx512 kernels run in the simulator (sets run natively: %v)", KernelSets())
	k, _ := simulatedSet(t, "avx512", nil)
	return k
}

// TestAVX512GEMV holds the AVX-512 decode-dot to the pure-Go twin and to
// the float64 reference for every batch it covers (1..8), every scale
// step it sees (32-code pairs, 64, 128 and 4096-code blocks; odd and even
// counts of steps), rows whose K ends in a block the kernel leaves to Go,
// bands of rows that end part way, both scale formats, two tables and
// unaligned data.
func TestAVX512GEMV(t *testing.T) {
	set := avx512Under(t)
	r := rand.New(rand.NewPCG(21, 22))
	batches := []int{1, 2, 3, 4, 5, 6, 7, 8}
	shapes := []linearShape{
		{67, 96, 32, batches}, {3, 32, 32, batches}, {65, 160, 32, batches}, {9, 192, 64, batches}, {33, 128, 64, batches},
		{4, 64, 64, batches}, {129, 640, 64, batches}, {5, 384, 128, batches}, {2, 8192, 4096, batches}, {71, 1024, 256, batches},
	}
	if set != avx512 && raceDetector {
		t.Logf("simulated under the race detector: the three largest shapes run without it")
		shapes = slices.DeleteFunc(shapes, func(s linearShape) bool { return s.n*s.k > 64*1024 })
	}
	eachLinearCase(t, r, shapes, func(c linearCase) {
		x, x64 := randomInput(r, c.m*c.k, c.off)
		twin := make([]float32, c.m*c.n)
		runWith(nil, func() {
			if err := Linear(twin, x, c.m, c.w); err != nil {
				t.Fatal(err)
			}
		})
		ref, twin64 := refLinear(c.w0, x64, c.m, false), float64s(twin)
		for _, k := range avx512OneRowKernels(set) {
			got := make([]float32, c.m*c.n)
			var err error
			runWith(k.set, func() { err = Linear(got, x, c.m, c.w) })
			if err != nil {
				t.Fatal(err)
			}
			if e, et := relErr(got, ref), relErr(got, twin64); !(e <= 1e-5) || !(et <= 1e-5) {
				t.Errorf("%s: %v: error %.2e against float64, %.2e against pure Go", k.name, c, e, et)
			}
		}
	})
}

// avx512OneRowKernels returns the AVX-512 set as it runs, and with its
// special one-row kernels taken away in turn, so that the kernels they
// stand in for (the general one-row kernel, the one for blocks of at most
// 64 codes) are tested on the same shapes.
func avx512OneRowKernels(set *vecKernels) []struct {
	name string
	set  *vecKernels
} {
	noPairs, noWide, general := *set, *set, *set
	noPairs.gemv1wp, noPairs.gemv1wbp = nil, nil
	noWide.gemv1w, noWide.gemv1wb = nil, nil
	general.gemv1w, general.gemv1wb, general.gemv1s = nil, nil, nil
	return []struct {
		name string
		set  *vecKernels
	}{{"avx512", set}, {"avx512 with the wide kernels a row at a time", &noPairs}, {"avx512 without the wide one-row kernels", &noWide}, {"avx512 with the general one-row kernel", &general}}
}

// TestAVX512Dequantize requires the AVX-512 dequantizer to write the pure-Go
// twin's values bit for bit, for every block size, both scale formats, a
// partial last block and unaligned slices.
func TestAVX512Dequantize(t *testing.T) {
	set := avx512Under(t)
	r := rand.New(rand.NewPCG(23, 24))
	for _, b := range []int{32, 64, 128, 512, 4096} {
		for _, double := range []bool{false, true} {
			for _, q := range QuantTypes() {
				w, _ := randomWeightsOf(t, q, r, 1, 9*4096+48, b, double)
				checkDequantizeWith(t, set, w, 1+b%3)
			}
		}
	}
}

// TestAVX512DequantizeStream covers the output size from which Dequantize
// streams its stores past the caches: aligned (streamed) and not.
func TestAVX512DequantizeStream(t *testing.T) {
	set := avx512Under(t)
	if set != avx512 && raceDetector {
		t.Logf("simulated under the race detector: the %d MiB outputs run without it", streamBytes>>20)
		return
	}
	r := rand.New(rand.NewPCG(25, 26))
	rows, cols := streamBytes/4/2048+3, 2048
	for _, double := range []bool{false, true} {
		w, _ := randomWeightsOf(t, NF4, r, rows, cols, 64, double)
		for _, off := range []int{0, 1} {
			checkDequantizeWith(t, set, w, off)
		}
	}
}

// fuzzWeights builds weights of n rows, blocks of b codes and nb blocks
// per row from the fuzzer's bytes; the scales include the whole float32
// range and the double-quantized format.
func fuzzWeights(raw []byte, n, b, nb int, double bool) *Weights {
	at := func(i int) byte { return raw[i%len(raw)] ^ byte(i/len(raw)) }
	k := b * nb
	w := &Weights{Rows: n, Cols: k, BlockSize: b, Codes: make([]byte, n*k/2)}
	for i := range w.Codes {
		w.Codes[i] = at(i)
	}
	absmax := make([]float32, n*nb)
	for i := range absmax {
		absmax[i] = float32(at(3*i)) / 16 * float32(math.Ldexp(1, int(at(5*i)%64)-32))
	}
	w.Scales = Scales{Absmax: absmax}
	if double {
		w.Scales = DoubleQuantize(absmax)
	}
	return w
}

// FuzzAVX512GEMV checks the AVX-512 decode-dot against the pure-Go twin on
// codes, scales and activations from the fuzzer's bytes, each output held
// to float32's dot-product bound.
func FuzzAVX512GEMV(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(1), uint8(3), uint8(0), false)
	f.Add(make([]byte, 300), uint8(7), uint8(66), uint8(9), true)
	f.Fuzz(func(t *testing.T, raw []byte, mm, nn, shape uint8, double bool) {
		set := avx512Under(t)
		if len(raw) == 0 {
			return
		}
		m, n := 1+int(mm)%GEMVMaxRows, 1+int(nn)%80
		b := 32 << (shape % 4)
		w := fuzzWeights(raw, n, b, 1+int(shape/4)%5, double)
		k := w.Cols
		at := func(i int) byte { return raw[i%len(raw)] ^ byte(i/len(raw)) }
		x := make([]float32, m*k)
		for i := range x {
			x[i] = float32(int8(at(7*i+1))) / 32
		}
		twin := make([]float32, m*n)
		runWith(nil, func() {
			if err := Linear(twin, x, m, w); err != nil {
				t.Fatal(err)
			}
		})
		// The bound: Σ|w·x| in float64, times float32's dot-product error.
		d := make([]float64, n*k)
		if err := Dequantize64(d, w); err != nil {
			t.Fatal(err)
		}
		bound := make([]float64, m*n)
		for i := range m {
			for j := range n {
				for c := range k {
					bound[i*n+j] += math.Abs(d[j*k+c] * float64(x[i*k+c]))
				}
			}
		}
		for _, v := range avx512OneRowKernels(set) {
			got := make([]float32, m*n)
			var err error
			runWith(v.set, func() { err = Linear(got, x, m, w) })
			if err != nil {
				t.Fatal(err)
			}
			for o := range got {
				if diff := math.Abs(float64(got[o]) - float64(twin[o])); !(diff <= 2e-5*bound[o]+1e-30) && !(math.IsInf(float64(twin[o]), 0) && got[o] == twin[o]) {
					t.Fatalf("%s: M=%d N=%d K=%d B=%d double=%v: output %d is %v, pure Go %v (bound %.2e)", v.name, m, n, k, b, double, o, got[o], twin[o], 2e-5*bound[o])
				}
			}
		}
	})
}

// FuzzAVX512Dequantize requires the AVX-512 dequantizer to match the pure-Go
// twin bit for bit on codes and scales from the fuzzer's bytes.
func FuzzAVX512Dequantize(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(0), uint8(3), false)
	f.Add(make([]byte, 200), uint8(2), uint8(17), true)
	f.Fuzz(func(t *testing.T, raw []byte, shape, nn uint8, double bool) {
		set := avx512Under(t)
		if len(raw) == 0 {
			return
		}
		b := 32 << (shape % 4)
		w := fuzzWeights(raw, 1+int(nn)%9, b, 1+int(shape/4)%7, double)
		checkDequantizeWith(t, set, w, int(shape)%3)
	})
}
