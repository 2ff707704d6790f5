package kernels

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/nf4go/nf4/cpu"
	"github.com/nf4go/nf4/kernels/ptx"
)

func TestDeterministic(t *testing.T) {
	for _, kn := range All() {
		for _, tg := range checkTargets {
			if tg.SM < kn.MinSM() {
				continue
			}
			a, err := kn.PTX(tg)
			if err != nil {
				t.Fatalf("%s %s: %v", kn.Name(), tg, err)
			}
			// A second value built from scratch must print the same bytes.
			b, err := All()[indexOf(kn)].PTX(tg)
			if err != nil {
				t.Fatal(err)
			}
			if a != b {
				t.Errorf("%s %s: two prints differ", kn.Name(), tg)
			}
		}
	}
}

func indexOf(k Kernel) int {
	for i, o := range All() {
		if o.Name() == k.Name() {
			return i
		}
	}
	return -1
}

func TestNamesUniqueAndParamsMatchPTX(t *testing.T) {
	seen := map[string]bool{}
	for _, kn := range All() {
		if seen[kn.Name()] {
			t.Errorf("duplicate kernel %s", kn.Name())
		}
		seen[kn.Name()] = true
		src, err := kn.PTX(ptx.SM90)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(src, ".visible .entry "+kn.Name()+"(") {
			t.Errorf("%s: entry missing", kn.Name())
		}
		_, mapper := kn.(TensorMapper)
		for _, p := range kn.Params() {
			decl := "\t.param .u64 " + p
			if mapper && p == "x_map" {
				decl = "\t.param .align 64 .b8 x_map[128]"
			}
			if !strings.Contains(src, decl) {
				t.Errorf("%s: param %s missing or not declared %q", kn.Name(), p, decl)
			}
		}
		header := ".version 7.8\n.target sm_90\n"
		if kn.MinSM() == 90 && mapper {
			// wgmma and tensor copies: sm_90a code, PTX ISA 8.0.
			header = ".version 8.0\n.target sm_90a\n"
		}
		if !strings.Contains(src, header) {
			t.Errorf("%s: wrong header for sm_90", kn.Name())
		}
		if strings.Contains(src, ".f64") {
			t.Errorf("%s: f64 in the kernel", kn.Name())
		}
		// Codes and plain scales are never read a byte at a time; the only
		// byte load is the tail of a double-quantized scale array.
		if bytes := strings.Count(src, "ld.global.nc.u8") + strings.Count(src, "ld.global.u8"); bytes > 0 && !strings.Contains(kn.Name(), "_dq") {
			t.Errorf("%s: %d byte loads", kn.Name(), bytes)
		}
	}
}

func TestConstructorErrors(t *testing.T) {
	for _, b := range []int{0, 16, 48, 100, 8192, -64} {
		if _, err := NewDequantize(OutF32, b, false); err == nil {
			t.Errorf("dequantize accepted block size %d", b)
		}
		if _, err := NewQuantize(b); err == nil {
			t.Errorf("quantize accepted block size %d", b)
		}
		if _, err := NewGemv(1, b, false); err == nil {
			t.Errorf("gemv accepted block size %d", b)
		}
		if _, err := NewGemm(b, false, false); err == nil {
			t.Errorf("gemm accepted block size %d", b)
		}
	}
	for _, m := range []int{0, 9, -1} {
		if _, err := NewGemv(m, 64, false); err == nil {
			t.Errorf("gemv accepted M=%d", m)
		}
	}
	for _, m := range []int{0, 1, MaxGemvTCM + 1} {
		if _, err := NewGemvTC(m, 64, false); err == nil {
			t.Errorf("gemv_tc accepted M=%d", m)
		}
	}
	if _, err := NewGemvTC(4, 48, false); err == nil {
		t.Error("gemv_tc accepted block size 48")
	}
	for _, tiles := range []int{-1, MaxGemvTCTiles + 1} {
		if _, err := (&GemvTC{M: 4, BlockSize: 64, Tiles: tiles}).PTX(ptx.SM80); err == nil {
			t.Errorf("gemv_tc printed with %d tiles", tiles)
		}
	}
	if _, err := (&GemvTC{M: 4, BlockSize: 32, Tiles: 3}).PTX(ptx.SM80); err == nil {
		t.Error("gemv_tc printed with 3 tiles at block size 32")
	}
	if _, err := NewDequantize(OutType(7), 64, false); err == nil {
		t.Error("dequantize accepted an unknown output type")
	}
	// A zero value with a bad config prints nothing.
	if _, err := (&Gemm{BlockSize: 3}).PTX(ptx.SM80); err == nil {
		t.Error("gemm printed with block size 3")
	}
	if _, err := (&Gemv{M: 1, BlockSize: 64}).PTX(ptx.Target{SM: 75}); err == nil {
		t.Error("printed for sm_75")
	}
}

func TestLaunch(t *testing.T) {
	dq, _ := NewDequantize(OutF32, 64, false)
	l, err := dq.Launch(Shape{N: 3, K: 128, BlockSize: 64})
	if err != nil || l.Grid != [3]int{1, 1, 1} || l.Block != [3]int{256, 1, 1} {
		t.Errorf("dequantize launch %+v %v", l, err)
	}
	gv, _ := NewGemv(3, 64, false)
	// M=3: 8 rows per block (24 running sums per lane).
	if l, err := gv.Launch(Shape{M: 3, N: 4097, K: 4096, BlockSize: 64}); err != nil || l.Grid[0] != 513 || l.SharedBytes != gemvSharedBytes {
		t.Errorf("gemv launch %+v %v", l, err)
	}
	for m := 1; m <= MaxGemvM; m++ {
		g := &Gemv{M: m, BlockSize: 64}
		if c := gemvConfigs[m]; c.rows < 1 || g.laneRows()*m > gemvSums || c.rows*m > gemvThreads || c.regs < 64 || c.regs > 255 {
			t.Errorf("gemv M=%d: %d rows, %d running sums per lane (room for %d), %d registers", m, c.rows, g.laneRows()*m, gemvSums, c.regs)
		}
	}
	if _, err := gv.Launch(Shape{M: 2, N: 1, K: 64, BlockSize: 64}); !errors.Is(err, errShape) {
		t.Errorf("gemv accepted M=2 for an M=3 kernel: %v", err)
	}
	// gemv_tc: 16-row tiles, 2 a block unless chosen, the decode table and
	// the warps' tile sums in shared memory.
	tc, _ := NewGemvTC(8, 64, false)
	if l, err := tc.Launch(Shape{M: 8, N: 33, K: 4096, BlockSize: 64}); err != nil || l.Grid != [3]int{2, 1, 1} || l.Block != [3]int{128, 1, 1} || l.SharedBytes != gemvTCTable+4*2*512 {
		t.Errorf("gemv_tc launch %+v %v", l, err)
	}
	if _, err := tc.Launch(Shape{M: 7, N: 33, K: 4096, BlockSize: 64}); !errors.Is(err, errShape) {
		t.Errorf("gemv_tc accepted M=7 for an M=8 kernel: %v", err)
	}
	for _, c := range []struct{ n, sms, tiles int }{{4096, 132, 2}, {8192, 132, 4}, {11008, 132, 3}, {14336, 132, 4}, {4096, 0, gemvTCTiles}, {5, 132, 1}} {
		if got := GemvTCTilesFor(c.n, c.sms, 64); got != c.tiles {
			t.Errorf("GemvTCTilesFor(%d, %d, 64) = %d, want %d", c.n, c.sms, got, c.tiles)
		}
	}
	if got := GemvTCTilesFor(8192, 132, 32); got != 2 {
		t.Errorf("GemvTCTilesFor(8192, 132, 32) = %d, want 2", got)
	}
	gm, _ := NewGemm(64, false, false)
	if l, err := gm.Launch(Shape{M: 17, N: 130, K: 64, BlockSize: 64}); err != nil || l.Grid != [3]int{3, 1, 1} || l.SharedBytes != 16384 {
		t.Errorf("gemm launch %+v %v", l, err)
	}
	gt, _ := NewGemm(32, false, true)
	if l, err := gt.Launch(Shape{M: 65, N: 5, K: 96, BlockSize: 32}); err != nil || l.Grid != [3]int{2, 2, 1} {
		t.Errorf("gemm_t launch %+v %v", l, err)
	}
	bad := []Shape{
		{M: 1, N: 1, K: 100, BlockSize: 64}, // K not a multiple of B
		{M: 1, N: 0, K: 64, BlockSize: 64},
		{M: 0, N: 1, K: 64, BlockSize: 64},
		{M: 1, N: 1, K: 64, BlockSize: 32}, // wrong block size for the kernel
	}
	for _, s := range bad {
		if _, err := gm.Launch(s); err == nil {
			t.Errorf("gemm accepted %+v", s)
		}
	}
}

func TestMidpoints(t *testing.T) {
	m := Midpoints()
	for i, v := range m {
		if !(Codebook[i] < v && v < Codebook[i+1]) {
			t.Errorf("midpoint %d = %v outside (%v, %v)", i, v, Codebook[i], Codebook[i+1])
		}
	}
	if m[7] < 0.0397 || m[7] > 0.0398 {
		t.Errorf("midpoint 7 = %v", m[7])
	}
	// The GPU must draw the same lines as the CPU reference, bit for bit.
	if m != cpu.Midpoints {
		t.Errorf("midpoints %v, cpu has %v", m, cpu.Midpoints)
	}
	if Codebook != cpu.Codebook {
		t.Errorf("codebook %v, cpu has %v", Codebook, cpu.Codebook)
	}
	if FP4.Values() != cpu.FP4Values || NF4.Values() != cpu.Codebook {
		t.Errorf("FP4 table %v, cpu has %v", FP4.Values(), cpu.FP4Values)
	}
	// The sort order and midpoints drive the quantizer: codes must agree
	// with cpu's at every midpoint.
	for _, c := range []struct {
		q  QuantType
		cq cpu.QuantType
	}{{NF4, cpu.NF4}, {FP4, cpu.FP4}} {
		order, mids := c.q.sorted()
		for i, m := range mids {
			if got := c.cq.Code(m); got != order[i] {
				t.Errorf("%v: midpoint %d (%v): cpu code %d, kernel order %d", c.q, i, m, got, order[i])
			}
			if got := c.cq.Code(math.Nextafter32(m, 2)); got != order[i+1] {
				t.Errorf("%v: above midpoint %d: cpu code %d, kernel order %d", c.q, i, got, order[i+1])
			}
		}
	}
	if _, err := ForQuant(&Gemv{M: 1, BlockSize: 64}, QuantType(5)); err == nil {
		t.Error("ForQuant accepted an unknown table")
	}
}
