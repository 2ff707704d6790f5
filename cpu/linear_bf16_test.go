package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestToBF16(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // a tie, to the even 1
		{0x3f818000, 0x3f82}, // a tie, to the even neighbour above
		{0x3f808001, 0x3f81}, // above the tie
		{0xbf80ffff, 0xbf81}, // negative, rounds away from zero
		{0x7f7fffff, 0x7f80}, // MaxFloat32 rounds to +Inf
		{0x7f800000, 0x7f80}, // +Inf
		{0x7f800001, 0x7fc0}, // a signalling NaN turns quiet
		{0x00400000, 0x0000}, // a denormal flushes to zero
		{0x80400000, 0x8000}, // with its sign
		{0x00800000, 0x0080}, // the smallest normal stays
	} {
		if got := toBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("toBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

// TestLinearBF16 holds LinearBF16 to the float64 reference (within bf16
// precision) and, where the bf16 kernels or the AMX tiles run, to their
// pure-Go twin (within float32 summation order); where they do not (one
// row with 32-code blocks or K under 128, large batches, other kernel
// sets), it must be Linear, bit for bit. Every batch of 1..8 is covered, and larger ones (slices,
// then the exact GEMM), with every scale step, rows whose K ends in a
// block left to Go, bands that end part way, both scale formats, both
// tables and unaligned data.
func TestLinearBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	batches := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 24, 40, 49, 64}
	var shapes []linearShape
	for _, sh := range []struct{ n, k, b int }{
		{67, 96, 32}, {3, 32, 32}, {65, 160, 32}, {9, 192, 64}, {33, 128, 64}, {4, 64, 64}, {129, 640, 64}, {5, 384, 128}, {2, 8192, 4096}, {71, 1024, 256},
	} {
		ms := batches
		if sh.k > 1024 {
			ms = batches[:GEMVMaxRows] // the GEMM batches are slow at this K
		}
		shapes = append(shapes, linearShape{sh.n, sh.k, sh.b, ms})
	}
	eachVariant(t, func(t *testing.T) {
		eachLinearCase(t, r, shapes, func(c linearCase) {
			x, x64 := randomInput(r, c.m*c.k, c.off)
			got := make([]float32, c.m*c.n)
			if err := LinearBF16(got, x, c.m, c.w); err != nil {
				t.Fatal(err)
			}
			if e := relErr(got, refLinear(c.w0, x64, c.m, false)); !(e <= 1e-2) {
				t.Errorf("%v: error %.2e against float64", c, e)
			}
			// On AMX tiles the sums run in k's order, as in their own
			// twin; on VDPBF16PS tiles in pairs, each second value first.
			amx := AMXKernels() && c.m >= amxMinRows
			tiles := !amx && BF16Kernels() && active.tilesBF16 != nil && c.m >= active.tilesFrom
			wide := BF16Kernels() && c.m == 1 && active.gemvBF16w != nil && c.k >= gemvWideUnit && c.b >= 64
			if amx || tiles || wide || BF16Kernels() && c.m >= 2 && c.m <= active.slicesUpTo {
				twin, twinOf := make([]float32, c.m*c.n), linearBF16Go
				switch {
				case amx:
					twinOf = linearAMXGo
				case tiles:
					twinOf = linearTilesGo
				}
				if err := twinOf(twin, x, c.m, c.w); err != nil {
					t.Fatal(err)
				}
				if e := relErr(got, float64s(twin)); !(e <= 1e-5) {
					t.Errorf("%v: error %.2e against the pure-Go bf16 twin", c, e)
				}
				return
			}
			exact := make([]float32, c.m*c.n)
			if err := Linear(exact, x, c.m, c.w); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, exact) {
				t.Errorf("%v: without bf16 kernels LinearBF16 differs from Linear", c)
			}
		})
	})
}

func float64s(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

func TestLinearBF16Rejects(t *testing.T) {
	w, _ := randomWeights(t, rand.New(rand.NewPCG(1, 2)), 4, 64, 64, false)
	eachVariant(t, func(t *testing.T) {
		if err := LinearBF16(make([]float32, 4), make([]float32, 63), 1, w); err == nil {
			t.Error("short input accepted")
		}
		if err := LinearBF16(make([]float32, 3), make([]float32, 64), 1, w); err == nil {
			t.Error("short output accepted")
		}
		if err := LinearBF16(nil, nil, 0, w); err == nil {
			t.Error("empty batch accepted")
		}
	})
}

// FuzzLinearBF16 checks LinearBF16 with every kernel set against the
// float64 reference, each output within bf16's dot-product bound relative
// to Σ|w·x| (fuzzed data can cancel), and, where the bf16 kernels run,
// against the pure-Go twin within float32's.
func FuzzLinearBF16(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(1), uint8(3))
	f.Add(make([]byte, 300), uint8(7), uint8(0))
	f.Add([]byte{0xff, 0x10, 0x7f, 0x80}, uint8(12), uint8(70))
	f.Fuzz(func(t *testing.T, raw []byte, mm, nn uint8) {
		if len(raw) == 0 {
			return
		}
		m, n, b := 1+int(mm)%20, 1+int(nn)%80, 32<<(len(raw)%2)
		k := b * (1 + len(raw)%5)
		at := func(i int) byte { return raw[i%len(raw)] ^ byte(i/len(raw)) }
		w := weightsFrom(at, n, k, b)
		x := make([]float32, m*k)
		x64 := make([]float64, m*k)
		for i := range x {
			x[i] = float32(int8(at(7*i+1))) / 32 * float32(1+at(5*i)%7)
			x64[i] = float64(x[i])
		}
		want := refLinear(w, x64, m, false)
		bound := dotBound(w, x64, m, false)
		twin, twinAMX := make([]float32, m*n), make([]float32, m*n)
		if err := linearBF16Go(twin, x, m, w); err != nil {
			t.Fatal(err)
		}
		if err := linearAMXGo(twinAMX, x, m, w); err != nil {
			t.Fatal(err)
		}
		underEverySet(func() {
			out := make([]float32, m*n)
			if err := LinearBF16(out, x, m, w); err != nil {
				t.Fatal(err)
			}
			native := BF16Kernels() && (m >= 2 && m <= active.slicesUpTo || m == 1 && active.gemvBF16w != nil && k >= gemvWideUnit && b >= 64)
			twin := twin
			if AMXKernels() && m >= amxMinRows {
				native, twin = true, twinAMX
			}
			for i := range out {
				// Two roundings to bf16 (8 significant bits) per product.
				if d := math.Abs(float64(out[i]) - want[i]); d > 8e-3*bound[i]+1e-30 {
					t.Fatalf("%s M=%d N=%d K=%d: output %d is %v, want %v (bound %.2e)", Kernels(), m, n, k, i, out[i], want[i], 8e-3*bound[i])
				}
				if d := math.Abs(float64(out[i]) - float64(twin[i])); native && d > 1e-5*bound[i]+1e-30 {
					t.Fatalf("%s M=%d N=%d K=%d: output %d is %v, pure-Go bf16 twin %v", Kernels(), m, n, k, i, out[i], twin[i])
				}
			}
		})
	})
}
