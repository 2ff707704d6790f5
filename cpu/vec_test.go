package cpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// eachVariant runs f once with the pure-Go kernels and once with every
// vector kernel set this CPU supports.
func eachVariant(t *testing.T, f func(t *testing.T)) {
	saved := active
	defer func() { active = saved }()
	sets := append([]*vecKernels{nil}, vecVariants()...)
	for _, k := range sets {
		active = k
		t.Run(Kernels(), f)
	}
}

// runWith runs f with k as the active kernel set (nil: pure Go).
func runWith(k *vecKernels, f func()) {
	saved := active
	defer func() { active = saved }()
	active = k
	f()
}

// TestKernelSetsRun says which kernel sets this package's tests run
// natively here (every eachVariant test runs each of them), and which sets
// of this build the CPU cannot run, so are tested only in the simulator
// (TestSimulatedKernels).
func TestKernelSetsRun(t *testing.T) {
	t.Logf("kernel sets run natively: %v; in use by default: %s", KernelSets(), Kernels())
	runs := vecVariants()
	for _, k := range builtVariants() {
		if !slices.Contains(runs, k) {
			t.Logf("NOT RUN NATIVELY: kernel set %s (this CPU lacks its instructions); TestSimulatedKernels runs it in the simulator only", k.name)
		}
	}
}

// offsetCopy returns a copy of s starting off elements into a fresh
// allocation, to run the kernels on unaligned data.
func offsetCopy[T any](s []T, off int) []T {
	buf := make([]T, len(s)+off)
	copy(buf[off:], s)
	return buf[off:]
}

// alignedFloats returns n float32 values starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	buf := make([]float32, n+16)
	skip := int(-uintptr(unsafe.Pointer(&buf[0])) % 64 / 4)
	return buf[skip : skip+n]
}

func offsetWeights(w *Weights, off int) *Weights {
	c := *w
	c.Codes = offsetCopy(w.Codes, off)
	if w.Scales.Double() {
		c.Scales.Q = offsetCopy(w.Scales.Q, off)
	} else {
		c.Scales.Absmax = offsetCopy(w.Scales.Absmax, off)
	}
	return &c
}

func TestVariantsLinear(t *testing.T) {
	all := make([]int, 70)
	for i := range all {
		all[i] = i + 1
	}
	some := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 33, 70}
	shapes := []struct {
		n, k, b int
		ms      []int
	}{
		{13, 160, 32, all}, {1, 32, 32, some}, {7, 96, 32, some}, {65, 640, 64, some},
		{131, 384, 128, some}, {9, 4096, 4096, []int{1, 8, 17}}, {70, 2048, 1024, []int{1, 5, 16, 23}},
	}
	eachVariant(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, sh := range shapes {
			for _, c := range []struct {
				q      QuantType
				double bool
			}{{NF4, false}, {NF4, true}, {FP4, true}} {
				double := c.double
				ms := sh.ms
				if c.q == FP4 {
					// The table is a pointer argument: the smallest and largest
					// gemv and a GEMM show every kernel uses it.
					ms = []int{1, 8, 9}
				}
				w0, _ := randomWeightsOf(t, c.q, r, sh.n, sh.k, sh.b, double)
				for _, m := range ms {
					for _, backward := range []bool{false, true} {
						off := m % 2 // odd batches run on unaligned data
						w := w0
						if off == 1 {
							w = offsetWeights(w0, 1)
						}
						in, outLen := sh.k, sh.n
						if backward {
							in, outLen = sh.n, sh.k
						}
						x, x64 := randomInput(r, m*in, off)
						out := offsetCopy(make([]float32, m*outLen), off)
						for i := range out {
							out[i] = float32(math.NaN())
						}
						var err error
						if backward {
							err = LinearBackward(out, x, m, w)
						} else {
							err = Linear(out, x, m, w)
						}
						if err != nil {
							t.Fatal(err)
						}
						if e := relErr(out, refLinear(w0, x64, m, backward)); !(e <= 1e-5) {
							t.Errorf("%v N=%d K=%d B=%d double=%v M=%d backward=%v: error %.2e", c.q, sh.n, sh.k, sh.b, double, m, backward, e)
						}
					}
				}
			}
		}
	})
}

// TestGEMVPlanes checks the decode-dot kernels' inputs: the four byte
// planes put back together give every codebook value bit for bit, in both
// 128-bit lanes, and unitOrder and unitOrder512 visit each position of a
// unit once.
func TestGEMVPlanes(t *testing.T) {
	for _, q := range QuantTypes() {
		for v, want := range q.Values() {
			for lane := range 2 {
				var bits uint32
				for j := range 4 {
					bits |= uint32(q.table().planes[j][16*lane+v]) << (8 * j)
				}
				if got := math.Float32frombits(bits); math.Float32bits(got) != math.Float32bits(want) {
					t.Errorf("%v code %d lane %d: planes give %v, want %v", q, v, lane, got, want)
				}
			}
		}
	}
	for i, b := range tables[FP4].planes[4] {
		if b != 0x0f {
			t.Errorf("mask byte %d is %#x", i, b)
		}
	}
	for _, order := range []*[gemvUnit]int{&unitOrder, &unitOrder512} {
		var seen [gemvUnit]bool
		for p, o := range order {
			if o < 0 || o >= gemvUnit || seen[o] {
				t.Fatalf("order[%d] = %d: not a permutation", p, o)
			}
			seen[o] = true
		}
	}
}

// quantizeWith runs Quantize under the given kernel set.
func quantizeWith(k *vecKernels, src []float32, rows, cols, b int) ([]byte, []float32, error) {
	codes, absmax := make([]byte, (len(src)+1)/2), make([]float32, (len(src)+b-1)/b)
	var err error
	runWith(k, func() { err = Quantize(codes, absmax, src, rows, cols, b) })
	return codes, absmax, err
}

// midpointBlocks builds blocks of 32 whose absmax is a, holding every
// midpoint times a and its float32 neighbours.
func midpointBlocks(a float32) []float32 {
	var v []float32
	for _, m := range Midpoints {
		for _, x := range []float32{m, math.Nextafter32(m, -2), math.Nextafter32(m, 2)} {
			v = append(v, x*a, -x*a)
		}
	}
	v = append(v, 0, float32(math.Copysign(0, -1)), 1e-42*a, -1e-42*a)
	var out []float32
	for len(v) > 0 {
		n := min(30, len(v))
		out = append(out, a, -a)
		out = append(out, v[:n]...)
		for range 30 - n {
			out = append(out, a/3)
		}
		v = v[n:]
	}
	return out
}

func TestVariantsQuantizeExact(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	var src []float32
	for _, a := range []float32{1, 2, 0.5, 3, 1e-30, 7e30} {
		src = append(src, midpointBlocks(a)...)
	}
	for range 64 * 32 {
		src = append(src, float32(r.NormFloat64()))
	}
	for range 32 { // an all-zero block, then denormals
		src = append(src, 0)
	}
	for range 32 {
		src = append(src, float32(r.NormFloat64()*1e-40))
	}
	for len(src)%256 != 0 {
		src = append(src, float32(r.Float64()*8-4))
	}
	wantCodes, wantMax, err := quantizeWith(nil, src, len(src)/256, 256, 32)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range src { // the scalar path is the rule itself
		code := wantCodes[i/2] >> (4 * (i % 2)) & 15
		a := wantMax[i/32]
		want := NearestCode(v * (1 / max(a, MinScale)))
		if code != want {
			t.Fatalf("scalar code %d for %v/%v, want %d", code, v, a, want)
		}
	}
	for _, k := range vecVariants() {
		for _, b := range []int{32, 64, 256} {
			scodes, smax, _ := quantizeWith(nil, src, len(src)/256, 256, b)
			codes, absmax, err := quantizeWith(k, offsetCopy(src, 1), len(src)/256, 256, b)
			if err != nil {
				t.Fatal(err)
			}
			if i := firstDiff(codes, scodes); i >= 0 {
				t.Fatalf("%s B=%d: code byte %d is %#x, scalar %#x (values %v, %v)", k.name, b, i, codes[i], scodes[i], src[2*i], src[2*i+1])
			}
			if i := firstDiff(absmax, smax); i >= 0 {
				t.Fatalf("%s B=%d: absmax %d is %v, scalar %v", k.name, b, i, absmax[i], smax[i])
			}
			// Quantize64 rounds to float32 first, so it must agree too.
			src64 := make([]float64, len(src))
			for i, v := range src {
				src64[i] = float64(v)
			}
			c64, m64 := make([]byte, len(codes)), make([]float32, len(absmax))
			runWith(k, func() { err = Quantize64(c64, m64, src64, len(src)/256, 256, b) })
			if err != nil || firstDiff(c64, scodes) >= 0 || firstDiff(m64, smax) >= 0 {
				t.Fatalf("%s B=%d: Quantize64 differs from the scalar Quantize (err %v)", k.name, b, err)
			}
		}
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
			s := slices.Clone(src)
			s[3*256+77] = bad
			s[5*256+3] = bad
			_, _, want := quantizeWith(nil, s, len(s)/256, 256, 64)
			_, _, got := quantizeWith(k, s, len(s)/256, 256, 64)
			var g, w *NonFiniteError
			if !errors.As(got, &g) || !errors.As(want, &w) || g.Row != w.Row || g.Block != w.Block || g.Col != w.Col || math.Float64bits(g.Value) != math.Float64bits(w.Value) {
				t.Fatalf("%s: %v: got %v, want %v", k.name, bad, got, want)
			}
		}
	}
}

func firstDiff[T comparable](a, b []T) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func TestVariantsDequantizeExact(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, b := range []int{32, 64, 1024} {
		for _, c := range []struct {
			q      QuantType
			double bool
		}{{NF4, false}, {NF4, true}, {FP4, false}, {FP4, true}} {
			double := c.double
			w, _ := randomWeightsOf(t, c.q, r, 37, 2048, b, double)
			want := make([]float32, 37*2048)
			var err error
			runWith(nil, func() { err = Dequantize(want, w) })
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range vecVariants() {
				got := offsetCopy(make([]float32, len(want)), 1)
				runWith(k, func() { err = Dequantize(got, offsetWeights(w, 1)) })
				if err != nil {
					t.Fatal(err)
				}
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("%s B=%d double=%v: element %d is %v, scalar %v", k.name, b, double, i, got[i], want[i])
				}
			}
		}
	}
}

// FuzzVecLinear checks the pure-Go and every vector kernel set against the
// float64 reference on weights, scales and activations taken from the
// fuzzer's bytes.
func FuzzVecLinear(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(1), uint8(3), false)
	f.Add(make([]byte, 300), uint8(20), uint8(0), true)
	f.Fuzz(func(t *testing.T, raw []byte, mm, nn uint8, backward bool) {
		if len(raw) == 0 {
			return
		}
		m, n, b := 1+int(mm)%40, 1+int(nn)%24, 32
		k := b * (1 + len(raw)%3)
		at := func(i int) byte { return raw[i%len(raw)] ^ byte(i/len(raw)) }
		w := weightsFrom(at, n, k, b)
		in, outLen := k, n
		if backward {
			in, outLen = n, k
		}
		x := make([]float32, m*in)
		x64 := make([]float64, m*in)
		for i := range x {
			x[i] = float32(int8(at(7*i+1))) / 32
			x64[i] = float64(x[i])
		}
		want := refLinear(w, x64, m, backward)
		// Fuzzed data can cancel, so each output is held to float32's
		// dot-product bound, relative to Σ|w·x| rather than to the result.
		bound := dotBound(w, x64, m, backward)
		underEverySet(func() {
			out := make([]float32, m*outLen)
			var err error
			if backward {
				err = LinearBackward(out, x, m, w)
			} else {
				err = Linear(out, x, m, w)
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range out {
				if d := math.Abs(float64(out[i]) - want[i]); d > 1e-5*bound[i]+1e-30 {
					t.Fatalf("%s M=%d N=%d K=%d backward=%v: output %d is %v, want %v (bound %.2e)", Kernels(), m, n, k, backward, i, out[i], want[i], 1e-5*bound[i])
				}
			}
		})
	})
}

// weightsFrom builds n×k weights in blocks of b from a fuzzer's bytes:
// code byte i is at(i), and block i's absmax at(3i)/16.
func weightsFrom(at func(int) byte, n, k, b int) *Weights {
	w := &Weights{Rows: n, Cols: k, BlockSize: b, Codes: make([]byte, n*k/2), Scales: Scales{Absmax: make([]float32, n*k/b)}}
	for i := range w.Codes {
		w.Codes[i] = at(i)
	}
	for i := range w.Scales.Absmax {
		w.Scales.Absmax[i] = float32(at(3*i)) / 16
	}
	return w
}

// dotBound is the product of |w| and |x| (Σ|w·x| for each output) for
// NF4 weights, the scale of a dot product's rounding error whatever
// cancels in it.
func dotBound(w *Weights, x64 []float64, m int, backward bool) []float64 {
	absW := *w
	absW.Codes = make([]byte, len(w.Codes))
	for i, c := range w.Codes {
		absW.Codes[i] = absCode[c&15] | absCode[c>>4]<<4
	}
	absX := make([]float64, len(x64))
	for i, v := range x64 {
		absX[i] = math.Abs(v)
	}
	return refLinear(&absW, absX, m, backward)
}

// underEverySet runs f under the pure-Go kernels and then under each
// vector kernel set this CPU runs; Kernels() names the one in use.
func underEverySet(f func()) {
	for _, k := range append([]*vecKernels{nil}, vecVariants()...) {
		runWith(k, f)
	}
}

// absCode maps each code to the code of its absolute value (the codebook
// is not symmetric, so only codes whose negation is a code are mapped; the
// rest keep a value at least as large).
var absCode = func() (t [16]byte) {
	for i, v := range Codebook {
		a := float32(math.Abs(float64(v)))
		for j, u := range Codebook {
			if u >= a {
				t[i] = byte(j)
				break
			}
		}
	}
	return t
}()

// FuzzVecQuantize checks that every vector quantizer gives the scalar
// codes, scales and errors on arbitrary float32 bit patterns.
func FuzzVecQuantize(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 191})
	f.Add(make([]byte, 4*64))
	f.Fuzz(func(t *testing.T, raw []byte) {
		vals := make([]float32, (len(raw)/4+31)/32*32) // whole blocks, zero-padded
		if len(vals) == 0 {
			return
		}
		copy(vals, floatsFrom(raw))
		wc, wm, werr := quantizeWith(nil, vals, 1, len(vals), 32)
		for _, k := range vecVariants() {
			c, m, err := quantizeWith(k, vals, 1, len(vals), 32)
			if (err == nil) != (werr == nil) {
				t.Fatalf("%s: error %v, scalar %v", k.name, err, werr)
			}
			if err != nil {
				var g, w *NonFiniteError
				if !errors.As(err, &g) || !errors.As(werr, &w) || g.Row != w.Row || g.Col != w.Col || g.Block != w.Block {
					t.Fatalf("%s: error %v, scalar %v", k.name, err, werr)
				}
				continue
			}
			if i := firstDiff(c, wc); i >= 0 {
				t.Fatalf("%s: code byte %d %#x, scalar %#x", k.name, i, c[i], wc[i])
			}
			if i := firstDiff(m, wm); i >= 0 {
				t.Fatalf("%s: absmax %d %v, scalar %v", k.name, i, m[i], wm[i])
			}
		}
	})
}
