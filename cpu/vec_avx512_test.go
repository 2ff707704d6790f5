//go:build amd64 && !purego

package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
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

// withKernels runs f with k as the active set.
func withKernels(k *vecKernels, f func()) {
	saved := active
	defer func() { active = saved }()
	active = k
	f()
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
	shapes := []struct{ n, k, b int }{
		{67, 96, 32}, {3, 32, 32}, {65, 160, 32}, {9, 192, 64}, {33, 128, 64}, {4, 64, 64}, {129, 640, 64}, {5, 384, 128}, {2, 8192, 4096}, {71, 1024, 256},
	}
	if set != avx512 && raceDetector {
		t.Logf("simulated under the race detector: the three largest shapes run without it")
		shapes = slices.DeleteFunc(shapes, func(s struct{ n, k, b int }) bool { return s.n*s.k > 64*1024 })
	}
	for _, sh := range shapes {
		for _, q := range QuantTypes() {
			for _, double := range []bool{false, true} {
				w0, _ := randomWeightsOf(t, q, r, sh.n, sh.k, sh.b, double)
				for m := 1; m <= GEMVMaxRows; m++ {
					off := m % 3
					w := offsetWeights(w0, off)
					x := offsetCopy(make([]float32, m*sh.k), off)
					x64 := make([]float64, len(x))
					for i := range x {
						x[i] = float32(r.NormFloat64())
						x64[i] = float64(x[i])
					}
					twin := make([]float32, m*sh.n)
					withKernels(nil, func() {
						if err := Linear(twin, x, m, w); err != nil {
							t.Fatal(err)
						}
					})
					ref := refLinear(w0, x64, m, false)
					twin64 := make([]float64, len(twin))
					for i, v := range twin {
						twin64[i] = float64(v)
					}
					for _, k := range avx512OneRowKernels(set) {
						got := make([]float32, m*sh.n)
						var err error
						withKernels(k.set, func() { err = Linear(got, x, m, w) })
						if err != nil {
							t.Fatal(err)
						}
						if e, et := relErr(got, ref), relErr(got, twin64); !(e <= 1e-5) || !(et <= 1e-5) {
							t.Errorf("%s: %v N=%d K=%d B=%d double=%v M=%d: error %.2e against float64, %.2e against pure Go", k.name, q, sh.n, sh.k, sh.b, double, m, e, et)
						}
					}
				}
			}
		}
	}
}

// avx512OneRowKernels returns the AVX-512 set as it runs, and with its
// special one-row kernels taken away in turn, so that the kernels they
// stand in for (the general one-row kernel, the one for blocks of at most
// 64 codes) are tested on the same shapes.
func avx512OneRowKernels(set *vecKernels) []struct {
	name string
	set  *vecKernels
} {
	noWide, general := *set, *set
	noWide.gemv1w, noWide.gemv1wb = nil, nil
	general.gemv1w, general.gemv1wb, general.gemv1s = nil, nil, nil
	return []struct {
		name string
		set  *vecKernels
	}{{"avx512", set}, {"avx512 without the wide one-row kernels", &noWide}, {"avx512 with the general one-row kernel", &general}}
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
				checkDequantizeTwin(t, set, w, 1+b%3)
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
			checkDequantizeTwin(t, set, w, off)
		}
	}
}

// alignedFloats returns n float32 values starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	buf := make([]float32, n+16)
	skip := int(-uintptr(unsafe.Pointer(&buf[0])) % 64 / 4)
	return buf[skip : skip+n]
}

func checkDequantizeTwin(t *testing.T, set *vecKernels, w *Weights, off int) {
	t.Helper()
	want := make([]float32, w.Rows*w.Cols)
	got := offsetCopy(alignedFloats(len(want)), off)
	var err, errTwin error
	withKernels(nil, func() { errTwin = Dequantize(want, w) })
	withKernels(set, func() { err = Dequantize(got, offsetWeights(w, off)) })
	if err != nil || errTwin != nil {
		t.Fatal(err, errTwin)
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("B=%d double=%v: element %d is %v, pure Go %v", w.BlockSize, w.Scales.Double(), i, got[i], want[i])
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
		withKernels(nil, func() {
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
			withKernels(v.set, func() { err = Linear(got, x, m, w) })
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
		checkDequantizeTwin(t, set, w, int(shape)%3)
	})
}
