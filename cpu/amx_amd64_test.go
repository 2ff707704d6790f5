//go:build amd64 && !purego

package cpu

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestAMXNative runs the AMX tile kernel natively where the CPU has
// AMX-BF16 and Linux grants the tile state, against the pure-Go twin (to
// the tolerance the hardware's order of the float32 sums allows, which the
// SDM leaves open) and the float64 product. Elsewhere it says so: the
// kernel then ran only in the simulator.
func TestAMXNative(t *testing.T) {
	if !amxPermitted() {
		t.Logf("NOT RUN NATIVELY: this CPU lacks AMX-BF16 or the OS refused the tile state: the AMX kernel ran only in the simulator (TestSimulatedAMX)")
		runWith(avx512, func() {
			if AMXKernels() {
				t.Error("AMXKernels reports true without the tile state")
			}
		})
		return
	}
	runWith(avx512, func() {
		if !AMXKernels() {
			t.Fatal("the tile state is granted but the avx512 set does not use it")
		}
	})
	sim, _ := simulatedAMX(t)
	r := rand.New(rand.NewPCG(51, 52))
	for _, sh := range []struct{ m, n, k, b int }{{16, 37, 64, 64}, {33, 70, 192, 64}, {70, 33, 256, 128}, {64, 96, 4096, 64}} {
		for _, double := range []bool{false, true} {
			w, _ := randomWeightsOf(t, NF4, r, sh.n, sh.k, sh.b, double)
			x, x64 := randomInput(r, sh.m*sh.k, 0)
			got, twin, simulated := make([]float32, sh.m*sh.n), make([]float32, sh.m*sh.n), make([]float32, sh.m*sh.n)
			runWith(avx512, func() {
				if err := LinearBF16(got, x, sh.m, w); err != nil {
					t.Fatal(err)
				}
			})
			if err := linearAMXGo(twin, x, sh.m, w); err != nil {
				t.Fatal(err)
			}
			if e := relErr(got, float64s(twin)); !(e <= 1e-5) {
				t.Errorf("%+v double=%v: error %.2e against the pure-Go twin", sh, double, e)
			}
			if e := relErr(got, refLinear(w, x64, sh.m, false)); !(e <= 1e-2) {
				t.Errorf("%+v double=%v: error %.2e against float64", sh, double, e)
			}
			if sh.k <= 256 {
				runWith(sim, func() {
					if err := LinearBF16(simulated, x, sh.m, w); err != nil {
						t.Fatal(err)
					}
				})
				if e := relErr(got, float64s(simulated)); !(e <= 1e-5) {
					t.Errorf("%+v double=%v: error %.2e against the simulator", sh, double, e)
				}
			}
		}
	}
	t.Log("the AMX tile kernel runs natively here")
}

// TestAMXRefusedFallsBack forces the answer "refused" and checks that
// LinearBF16 then is what it is without the AMX path, bit for bit, on
// every machine.
func TestAMXRefusedFallsBack(t *testing.T) {
	if !hasAVX512() {
		t.Logf("no AVX-512 here: the avx2 set has no AMX path, so LinearBF16 never takes it")
		runWith(bestKernels(), func() {
			if AMXKernels() {
				t.Error("AMXKernels reports true without AVX-512")
			}
		})
		return
	}
	amxRefusedForTest = true
	defer func() { amxRefusedForTest = false }()
	runWith(avx512, func() {
		if AMXKernels() {
			t.Error("AMXKernels reports true with the tile state refused")
		}
	})
	noAMX := *avx512
	noAMX.amx = nil
	r := rand.New(rand.NewPCG(53, 54))
	for _, m := range []int{16, 33, 70} {
		w, _ := randomWeightsOf(t, FP4, r, 37, 192, 64, true)
		x, _ := randomInput(r, m*192, 0)
		got, want := make([]float32, m*37), make([]float32, m*37)
		runWith(avx512, func() {
			if err := LinearBF16(got, x, m, w); err != nil {
				t.Fatal(err)
			}
		})
		runWith(&noAMX, func() {
			if err := LinearBF16(want, x, m, w); err != nil {
				t.Fatal(err)
			}
		})
		if i := firstDiff(got, want); i >= 0 {
			t.Errorf("M=%d: element %d is %v, without the AMX path %v", m, i, got[i], want[i])
		}
	}
}

// TestDecodeBF16Native holds the AVX-512 BF16 decode of the AMX path to
// its Go twin, bit for bit, where the CPU has AVX512_BF16 (with or
// without AMX): every block size, plain and double-quantized scales, three
// rows from the second block of each of a 5-block row on.
func TestDecodeBF16Native(t *testing.T) {
	if !hasAVX512() || !cpu.X86.HasAVX512BF16 {
		t.Logf("NOT RUN NATIVELY: this CPU lacks AVX512_BF16: the AMX path's decode ran only in the simulator")
		return
	}
	r := rand.New(rand.NewPCG(55, 56))
	for b := MinBlockSize; b <= MaxBlockSize; b *= 2 {
		for _, q := range QuantTypes() {
			for _, double := range []bool{false, true} {
				const rows, perRow, blocks, ldd = 3, 5, 3, 7
				w, _ := randomWeightsOf(t, q, r, rows, perRow*b, b, double)
				scales := rowScales(&w.Scales, 0, rows*perRow, make([]float32, rows*perRow))
				got, want := make([]uint16, rows*ldd*b), make([]uint16, rows*ldd*b)
				decodeBF16AVX512(&got[0], 2*ldd*b, &w.Codes[b/2], perRow*b/2, &scales[1], 4*perRow, rows, blocks, b, &w.table().values)
				for j := range rows {
					decodeBF16Go(want[j*ldd*b:], w.Codes[(j*perRow+1)*b/2:], scales[j*perRow+1:j*perRow+1+blocks], b, &w.table().values)
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%v B=%d double=%v: value %d is %#04x, Go %#04x", q, b, double, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// BenchmarkAMXDecode times the part of the AMX path a CPU without AMX can
// run: decoding all of a 4096² W to bf16 rows (one thread, row by row
// into one row's buffer, as each of linearTiled's threads does its panels),
// beside the avx512 set's float32 decode of the same rows the same way.
func BenchmarkAMXDecode(b *testing.B) {
	if !hasAVX512() || !cpu.X86.HasAVX512BF16 {
		b.Skip("no AVX512_BF16 here")
	}
	w, _, _ := benchSetup(b)
	K, B := w.Cols, w.BlockSize
	row := make([]uint16, K)
	values := &w.table().values
	b.Run("bf16-rows", func(b *testing.B) {
		for b.Loop() {
			for n := range w.Rows {
				first := n * (K / B)
				decodeBF16AVX512(&row[0], 0, &w.Codes[first*B/2], 0, &w.Scales.Absmax[first], 0, 1, K/B, B, values)
			}
		}
		b.SetBytes(int64(len(w.Codes)))
	})
	f := make([]float32, K)
	b.Run("float32-rows", func(b *testing.B) {
		for b.Loop() {
			for n := range w.Rows {
				first := n * (K / B)
				decodeAVX512(&f[0], &w.Codes[first*B/2], &w.Scales.Absmax[first], K/B, B, streamAhead, values)
			}
		}
		b.SetBytes(int64(len(w.Codes)))
	})
}

// BenchmarkAMXPathWithoutTiles times linearTiled at M = 64 on 4096² with a
// tile kernel that does nothing: all the path costs besides the tiles (x
// to bf16, W decoded panel by panel, the output written), on every thread,
// beside the bf16 path this CPU runs at M = 64 without tiles.
func BenchmarkAMXPathWithoutTiles(b *testing.B) {
	if !hasAVX512() || !cpu.X86.HasAVX512BF16 {
		b.Skip("no AVX512_BF16 here")
	}
	w, _, _ := benchSetup(b)
	const m = 64
	r := rand.New(rand.NewPCG(7, 7))
	x := make([]float32, m*benchK)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	out := make([]float32, m*benchN)
	noTiles := &tileKernels{tile: func(*uint16, int, *uint32, *float32, int, int, int) {}, decode: decodeBF16AVX512}
	b.Run("amx-path-no-tiles", withCPUTime(func(b *testing.B) {
		for b.Loop() {
			linearTiled(noTiles, out, x, m, w)
		}
	}))
	b.Run("avx512-bf16", withCPUTime(func(b *testing.B) {
		runWith(avx512, func() {
			for b.Loop() {
				if err := LinearBF16(out, x, m, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}))
}

// decodeBF16Go decodes one weight row as panelDecodeFunc does, in plain Go:
// the reference its kernel is held to.
func decodeBF16Go(dst []uint16, codes []byte, scales []float32, blockSize int, values *[16]float32) {
	var tab [16]uint16
	for b, s := range scales {
		for v := range tab {
			tab[v] = toBF16(values[v] * s)
		}
		for i, c := range codes[b*blockSize/2 : (b+1)*blockSize/2] {
			dst[b*blockSize+2*i] = tab[c&15]
			dst[b*blockSize+2*i+1] = tab[c>>4]
		}
	}
}
