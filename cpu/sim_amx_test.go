package cpu

import (
	"math/rand/v2"
	"testing"
)

// simAMX is the simulated AMX tile kernel: a is 32 rows of 64·ksteps
// bytes, lda apart; b the panel's 16·ksteps rows of 128 bytes; c 32 rows
// of 128 bytes, ldc apart (read too when acc is not 0). No native run: the CPU's order of the sums may
// differ from the simulator's (see TestAMXNative).
func (s *simSet) simAMX(fn string) tileKernel {
	return func(a *uint16, lda int, b *uint32, c *float32, ldc int, ksteps int, acc int) {
		s.call(fn, nil, simRows(a, 32, 64*ksteps, lda), simInt(lda), simPtr(b, 16*ksteps*128),
			simRows(c, 32, 128, ldc), simInt(ldc), simInt(ksteps), simInt(acc))
	}
}

// simTileBF16 is the simulated VDPBF16PS tile kernel, with the AMX tile
// kernel's arguments; native, if not nil, runs too, and must agree bit
// for bit.
func (s *simSet) simTileBF16(fn string, native tileKernel) tileKernel {
	return func(a *uint16, lda int, b *uint32, c *float32, ldc int, ksteps int, acc int) {
		var run func() int
		if native != nil {
			run = func() int { native(a, lda, b, c, ldc, ksteps, acc); return 0 }
		}
		s.call(fn, run, simRows(a, 32, 64*ksteps, lda), simInt(lda), simPtr(b, 16*ksteps*128),
			simRows(c, 32, 128, ldc), simInt(ldc), simInt(ksteps), simInt(acc))
	}
}

// simDecodeBF16 is the simulated decode of weight rows to bf16; native,
// if not nil, runs too, and must agree bit for bit.
func (s *simSet) simDecodeBF16(fn string, native panelDecodeFunc) panelDecodeFunc {
	return func(dst *uint16, ldd int, codes *byte, ldc int, scales *float32, lds int, rows, blocks, blockSize int, tab *[16]float32) {
		var run func() int
		if native != nil {
			run = func() int { native(dst, ldd, codes, ldc, scales, lds, rows, blocks, blockSize, tab); return 0 }
		}
		n := blocks * blockSize
		s.call(fn, run, simRows(dst, rows, 2*n, ldd), simInt(ldd), simRows(codes, rows, n/2, ldc), simInt(ldc),
			simRows(scales, rows, 4*blocks, lds), simInt(lds), simInt(rows), simInt(blocks), simInt(blockSize), simPtr(tab, 64))
	}
}

// simulatedAMX is the simulated avx512 set with the AMX path, its tile
// kernel run in the simulator whether or not this CPU has AMX.
func simulatedAMX(t testing.TB) (*vecKernels, *simSet) {
	k, _ := simulatedSet(t, "avx512", nil)
	s := loadSimSet(t, "nf4_amx_amd64.s")
	k.name = "simulated avx512 with amx"
	k.amx = &tileKernels{
		tile:   s.simAMX("amxBF16x32x32"),
		decode: k.tilesBF16.decode, // the avx512 set's, simulated
		ready:  func() bool { return true },
	}
	return k, s
}

// TestSimulatedAMX runs LinearBF16's AMX path with the tile kernel
// simulated, against its pure-Go twin (the simulator sums in the SDM's
// order, as the twin does, so they agree exactly) and the float64
// product, on batches of 16 rows or more that fill the 32-row blocks
// unevenly, weight counts that are no multiple of 16 or 32, and K from
// one block of 64 to several chunks.
func TestSimulatedAMX(t *testing.T) {
	t.Logf("AMX tile kernel: run in the simulator; natively only where TestAMXNative says so")
	k, s := simulatedAMX(t)
	s.t = t
	r := rand.New(rand.NewPCG(47, 48))
	shapes := []linearShape{
		{37, 64, 64, []int{16, 17, 33}}, {5, 192, 64, []int{16, 70}}, {70, 96, 32, []int{17}},
		{33, 256, 128, []int{33}}, {16, 128, 64, []int{70}},
		// K past one chunk (1024 values, or a block of 2048): the tiles
		// add to the sums so far, and a last chunk may be shorter.
		{37, 640, 64, []int{17}}, {5, 1024, 512, []int{33}},
		{37, 1280, 64, []int{17}}, {5, 4096, 2048, []int{16}},
	}
	eachLinearCase(t, r, shapes, func(c linearCase) {
		x, x64 := randomInput(r, c.m*c.k, c.off)
		got := make([]float32, c.m*c.n)
		var err error
		runWith(k, func() { err = LinearBF16(got, x, c.m, c.w) })
		if err != nil {
			t.Fatal(err)
		}
		twin := make([]float32, c.m*c.n)
		if err := linearAMXGo(twin, x, c.m, c.w); err != nil {
			t.Fatal(err)
		}
		if e := relErr(got, refLinear(c.w0, x64, c.m, false)); !(e <= 1e-2) {
			t.Errorf("%v: error %.2e against float64", c, e)
		}
		if i := firstDiff(got, twin); i >= 0 {
			t.Errorf("%v: element %d is %v, pure Go %v", c, i, got[i], twin[i])
		}
	})
	// Fewer than 16 rows do not take the tiles.
	w, _ := randomWeightsOf(t, NF4, r, 3, 64, 64, false)
	before := s.calls["amxBF16x32x32"]
	runWith(k, func() {
		if err := LinearBF16(make([]float32, 15*3), make([]float32, 15*64), 15, w); err != nil {
			t.Fatal(err)
		}
	})
	if s.calls["amxBF16x32x32"] != before {
		t.Errorf("15 rows ran the tile kernel")
	}
	s.requireExercised(t)
}

// TestAMXTwinAccuracy checks the twin itself against float64, so that the
// exact agreement above means something.
func TestAMXTwinAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(49, 50))
	w, _ := randomWeightsOf(t, NF4, r, 41, 320, 64, true)
	const m = 19
	x, x64 := randomInput(r, m*320, 0)
	got := make([]float32, m*41)
	if err := linearAMXGo(got, x, m, w); err != nil {
		t.Fatal(err)
	}
	e := relErr(got, refLinear(w, x64, m, false))
	if !(e <= 1e-2) || e < 1e-6 {
		t.Errorf("error %.2e against float64: want bf16's (above 1e-6, at most 1e-2)", e)
	}
}
