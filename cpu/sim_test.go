package cpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/nf4go/nf4/cpu/internal/asmsim"
)

// TestSimulatedKernels runs every kernel of every set in the simulator
// against the pure-Go twin (and the float64 reference), on small awkward
// shapes; each call also runs natively where this CPU has the set, and
// must then match bit for bit.
func TestSimulatedKernels(t *testing.T) {
	for _, name := range []string{"avx512", "avx2"} {
		native := nativeSet(name)
		if native != nil {
			t.Logf("kernel set %s: run natively and in the simulator, compared call by call", name)
		} else {
			t.Logf("kernel set %s: NOT RUN NATIVELY, run only in the simulator", name)
		}
		k, s := simulatedSet(t, name, native)
		t.Run(name, func(t *testing.T) {
			s.t = t
			t.Run("dequantize", func(t *testing.T) { s.t = t; simDequantize(t, k) })
			t.Run("linear", func(t *testing.T) { s.t = t; simLinear(t, k) })
			t.Run("linearBF16", func(t *testing.T) { s.t = t; simLinearBF16(t, k) })
			t.Run("quantize", func(t *testing.T) { s.t = t; simQuantize(t, k) })
			t.Run("peak", func(t *testing.T) { s.t = t; checkPeakLoops(t, k) })
			t.Run("fill", func(t *testing.T) { s.t = t; checkStreamFill(t, k) })
			s.t = t
		})
		mnemonics := s.requireExercised(t)
		t.Logf("%s: all %d mnemonics of the file executed, %d instructions in all", name, mnemonics, total(s.seen))
	}
}

func total(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

func simDequantize(t *testing.T, k *vecKernels) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, b := range []int{32, 64, 128, 512} {
		for _, double := range []bool{false, true} {
			for _, q := range QuantTypes() {
				w, _ := randomWeightsOf(t, q, r, 3, 5*b+b, b, double)
				checkDequantizeWith(t, k, w, 1+b%3)
			}
		}
	}
	if k.decodeStream != nil {
		// The streaming kernel itself, on a small aligned output.
		w, _ := randomWeightsOf(t, FP4, r, 1, 5*64, 64, false)
		want := make([]float32, w.Cols)
		runWith(nil, func() {
			if err := Dequantize(want, w); err != nil {
				t.Fatal(err)
			}
		})
		got := alignedFloats(w.Cols)
		k.decodeStream(&got[0], &w.Codes[0], &w.Scales.Absmax[0], 5, 64, streamAhead, &w.table().values)
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("%s: streaming kernel: element %d is %v, pure Go %v", k.name, i, got[i], want[i])
		}
	}
	if k.decodeStream != nil && raceDetector {
		t.Logf("%s: the race detector is on: the %d MiB streaming case runs without it", k.name, streamBytes>>20)
	} else if k.decodeStream != nil {
		// From streamBytes on, an aligned output takes the streaming kernel.
		w, _ := randomWeightsOf(t, NF4, r, streamBytes/4/2048+1, 2048, 64, false)
		checkDequantizeWith(t, k, w, 0)
	}
}

func checkDequantizeWith(t *testing.T, k *vecKernels, w *Weights, off int) {
	t.Helper()
	want := make([]float32, w.Rows*w.Cols)
	got := offsetCopy(alignedFloats(len(want)), off)
	var err, errTwin error
	runWith(nil, func() { errTwin = Dequantize(want, w) })
	runWith(k, func() { err = Dequantize(got, offsetWeights(w, off)) })
	if err != nil || errTwin != nil {
		t.Fatal(err, errTwin)
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("%s B=%d double=%v: element %d is %v, pure Go %v", k.name, w.BlockSize, w.Scales.Double(), i, got[i], want[i])
	}
}

// simLinear covers the decode-dot kernels (M = 1..8, every scale step and
// one-row special kernel) and every GEMM micro-kernel (M > 8 forward, every
// M backward) on shapes whose K ends in a block left to Go.
func simLinear(t *testing.T, k *vecKernels) {
	r := rand.New(rand.NewPCG(43, 44))
	shapes := []linearShape{
		{67, 96, 32, []int{1, 2, 3, 4, 5, 6, 7, 8}}, {5, 160, 32, []int{1, 3, 8}}, {9, 192, 64, []int{1, 2, 5, 8, 9}},
		{3, 384, 128, []int{1, 4, 7}}, {2, 512, 256, []int{1, 6}}, {13, 160, 32, []int{9, 17, 26}},
		{7, 128, 64, []int{10, 11}},
	}
	sets := []*vecKernels{k}
	if k.gemv1w != nil {
		noPairs, noWide, general := *k, *k, *k
		noPairs.gemv1wp, noPairs.gemv1wbp = nil, nil
		noWide.gemv1w, noWide.gemv1wb = nil, nil
		general.gemv1w, general.gemv1wb, general.gemv1s = nil, nil, nil
		sets = append(sets, &noPairs, &noWide, &general)
	}
	eachLinearCase(t, r, shapes, func(c linearCase) {
		for _, backward := range []bool{false, true} {
			in, outLen := c.k, c.n
			if backward {
				in, outLen = c.n, c.k
			}
			x, x64 := randomInput(r, c.m*in, c.off)
			run := func(k *vecKernels) []float32 {
				out := make([]float32, c.m*outLen)
				for i := range out {
					out[i] = float32(math.NaN())
				}
				var err error
				runWith(k, func() {
					if backward {
						err = LinearBackward(out, x, c.m, c.w)
					} else {
						err = Linear(out, x, c.m, c.w)
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			twin := float64s(run(nil))
			ref := refLinear(c.w0, x64, c.m, backward)
			for i, set := range sets {
				got := run(set)
				if e, et := relErr(got, ref), relErr(got, twin); !(e <= 1e-5) || !(et <= 1e-5) {
					t.Errorf("%s (variant %d): %v backward=%v: error %.2e against float64, %.2e against pure Go", k.name, i, c, backward, e, et)
				}
			}
		}
	})
}

// simQuantize requires the quantizer to give the scalar rule's codes and
// absmax bit for bit (midpoints and their neighbours, zeros, denormals,
// unaligned input), and the same error for non-finite input.
func simQuantize(t *testing.T, k *vecKernels) {
	r := rand.New(rand.NewPCG(45, 46))
	var src []float32
	for _, a := range []float32{1, 0.5, 1e-30, 7e30} {
		src = append(src, midpointBlocks(a)...)
	}
	for range 8 * 32 {
		src = append(src, float32(r.NormFloat64()))
	}
	for range 32 {
		src = append(src, float32(r.NormFloat64()*1e-40))
	}
	for len(src)%256 != 0 {
		src = append(src, float32(r.Float64()*8-4))
	}
	for _, b := range []int{32, 64, 256} {
		scodes, smax, _ := quantizeWith(nil, src, len(src)/256, 256, b)
		codes, absmax, err := quantizeWith(k, offsetCopy(src, 1), len(src)/256, 256, b)
		if err != nil {
			t.Fatal(err)
		}
		if i := firstDiff(codes, scodes); i >= 0 {
			t.Fatalf("%s B=%d: code byte %d is %#x, scalar %#x", k.name, b, i, codes[i], scodes[i])
		}
		if i := firstDiff(absmax, smax); i >= 0 {
			t.Fatalf("%s B=%d: absmax %d is %v, scalar %v", k.name, b, i, absmax[i], smax[i])
		}
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		s := slices.Clone(src)
		s[2*256+77] = bad
		_, _, want := quantizeWith(nil, s, len(s)/256, 256, 64)
		_, _, got := quantizeWith(k, s, len(s)/256, 256, 64)
		if got == nil || want == nil || got.Error() != want.Error() {
			t.Fatalf("%s: %v: got %v, want %v", k.name, bad, got, want)
		}
	}
}

// TestSimulatedFaults runs the real AVX-512 dequantizer in the simulator
// on too little code memory and the streaming one on a misaligned output:
// both fault, naming the instruction and its line in the assembly.
func TestSimulatedFaults(t *testing.T) {
	s := loadSimSet(t, "nf4_avx512_amd64.s")
	src, err := os.ReadFile("nf4_avx512_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	const blocks, b = 2, 64
	tab := tables[NF4].values
	for _, c := range []struct {
		fn         string
		misalign   int
		codeBytes  int
		wantInLine string
	}{
		{"decodeAVX512", 0, blocks*b/2 - 1, "VPMOVZXBD"},
		{"decodeAVX512Stream", 4, blocks * b / 2, "VMOVNTPS"},
	} {
		m := asmsim.NewMachine(s.prog)
		dst := m.Map(make([]byte, 4*blocks*b+64), c.misalign) // room for the misaligned start
		codes := m.Map(make([]byte, c.codeBytes), 0)
		scales := m.Map(make([]byte, 4*blocks), 0)
		tp := m.Map(unsafe.Slice((*byte)(unsafe.Pointer(&tab)), 64), 0)
		_, err := m.Call(c.fn, dst, codes, scales, blocks, b, 0, tp)
		var f *asmsim.Fault
		if !errors.As(err, &f) || f.Line < 1 || f.Line > len(lines) || !strings.Contains(lines[f.Line-1], c.wantInLine) {
			t.Fatalf("%s: got %v, want a fault at a %s", c.fn, err, c.wantInLine)
		}
		t.Logf("%s: %v", c.fn, err)
	}
}

// simLinearBF16 runs LinearBF16 with the set's bf16 kernels (none in the
// avx2 set; none for one row with 32-code blocks or K under 128: there it
// is Linear) against the float64 reference and the pure-Go twin, on shapes with partial bands and a last
// block past the kernels' units; batches of tilesFrom rows or more take
// the tile path, on shapes that fill its 32-row blocks unevenly and K
// past one chunk, and must match its twin exactly.
func simLinearBF16(t *testing.T, k *vecKernels) {
	simLinearBF16With(t, k)
	if k.gemvBF16wp != nil {
		// The wide one-row kernel a row at a time, on the same shapes.
		noPairs := *k
		noPairs.gemvBF16wp = nil
		simLinearBF16With(t, &noPairs)
	}
}

func simLinearBF16With(t *testing.T, k *vecKernels) {
	r := rand.New(rand.NewPCG(45, 46))
	shapes := []linearShape{
		{19, 96, 32, []int{1, 2, 3, 4, 5, 6, 7, 8}}, {5, 160, 32, []int{1, 8}}, {9, 192, 64, []int{2, 5}},
		{3, 384, 128, []int{1, 7}}, {2, 512, 256, []int{3}},
		{67, 320, 64, []int{1}}, {70, 1024, 256, []int{1}}, {9, 128, 64, []int{1}},
		{37, 64, 64, []int{16, 17}}, {33, 96, 32, []int{33}}, {5, 192, 64, []int{70}},
		{37, 1280, 64, []int{33}}, {3, 2048, 1024, []int{32}},
	}
	eachLinearCase(t, r, shapes, func(c linearCase) {
		x, x64 := randomInput(r, c.m*c.k, c.off)
		got := make([]float32, c.m*c.n)
		var err error
		runWith(k, func() { err = LinearBF16(got, x, c.m, c.w) })
		if err != nil {
			t.Fatal(err)
		}
		tiles := k.tilesBF16 != nil && c.m >= k.tilesFrom
		twin := make([]float32, c.m*c.n)
		twinOf := linearBF16Go
		if tiles {
			twinOf = linearTilesGo
		}
		if err := twinOf(twin, x, c.m, c.w); err != nil {
			t.Fatal(err)
		}
		// Without bf16 kernels, and for one row that the wide kernel
		// does not take, LinearBF16 is Linear's exact float32 path.
		bf16 := tiles || k.gemvBF16 != nil && c.m < len(k.gemvBF16) && k.gemvBF16[c.m] != nil
		if c.m == 1 {
			bf16 = k.gemvBF16w != nil && c.k >= gemvWideUnit && c.b >= 64
		}
		tol := 1e-5
		if bf16 {
			tol = 1e-2
		}
		if e := relErr(got, refLinear(c.w0, x64, c.m, false)); !(e <= tol) {
			t.Errorf("%s: %v: error %.2e against float64", k.name, c, e)
		}
		if tiles {
			if i := firstDiff(got, twin); i >= 0 {
				t.Errorf("%s: %v: element %d is %v, pure Go %v", k.name, c, i, got[i], twin[i])
			}
		} else if e := relErr(got, float64s(twin)); bf16 && !(e <= 1e-5) {
			t.Errorf("%s: %v: error %.2e against pure Go", k.name, c, e)
		}
	})
}
