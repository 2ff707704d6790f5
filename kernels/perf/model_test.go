package perf

import (
	"math"
	"strings"
	"testing"

	"github.com/nf4go/nf4/kernels/internal/sass"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

// A streaming copy of 512 MiB (16 B per thread in and out, 256 threads per
// block): by hand, 1 GiB of DRAM traffic at the profile's copy bandwidth
// outlasts everything else, and that is the physical limit: fraction 1.
func TestStreamingCopyIsDRAMBound(t *testing.T) {
	for _, d := range Devices() {
		const bytes = 512 << 20
		ctas := bytes / 4096
		w := Workload{Kernel: "copy", CTAs: ctas, ThreadsPerCTA: 256, RegsPerThread: 16,
			WarpInstrs: 8 * 10, L1Wavefronts: 8 * 8, DRAMBytes: 2 * bytes, L2Bytes: 2 * bytes,
			TripsPerWarp: 1, Roof: RoofMemory}
		w.Pipe[sass.PipeLSU] = 8 * 2
		w.Pipe[sass.PipeALU] = 8 * 6
		p, err := Predict(w, d)
		if err != nil {
			t.Fatal(err)
		}
		want := 2 * bytes / d.CopyBandwidth.V
		if p.Binding != "DRAM" || !near(p.Seconds, want) || p.Fraction != 1 || p.Limit != "DRAM copy bandwidth" {
			t.Errorf("%s: %s %.4g s (want DRAM %.4g s), fraction %g of %s", d.Key, p.Binding, p.Seconds, want, p.Fraction, p.Limit)
		}
		if p.CTAsPerSM != 8 || p.OccupancyLimit != "warps" {
			t.Errorf("%s: occupancy %d blocks (%s)", d.Key, p.CTAsPerSM, p.OccupancyLimit)
		}
		// Little's law: 64 warps × 1 KiB of DRAM traffic (512 B in, 512
		// B out) per round trip.
		if !near(p.InFlightPerSM, 64*1024) {
			t.Errorf("in flight %g B per SM", p.InFlightPerSM)
		}
	}
}

// Independent FFMAs only: FMA-bound at the pipe's 4 warp instructions per
// clock per SM, which is also the FP32 peak.
func TestIndependentFMAsAreFMABound(t *testing.T) {
	d := H200()
	const ffma = 1 << 20 // per block
	w := Workload{Kernel: "fma", CTAs: 4 * 132, ThreadsPerCTA: 256, RegsPerThread: 32,
		WarpInstrs: ffma, DRAMBytes: 4 * 132 * 256 * 4, L2Bytes: 4 * 132 * 256 * 4, TripsPerWarp: 1,
		FLOPs: 2 * 32 * ffma * 4 * 132, Roof: RoofFP32}
	w.Pipe[sass.PipeFMA] = ffma
	p, err := Predict(w, d)
	if err != nil {
		t.Fatal(err)
	}
	want := 4 * ffma / d.FMARate.V / d.ClockHz.V
	if p.Binding != "fma pipe" || !near(p.Seconds, want) {
		t.Errorf("%s %.6g s, want fma pipe %.6g s; bounds %+v", p.Binding, p.Seconds, want, p.Bounds)
	}
	if p.Limit != "FP32 peak" || math.Abs(p.Fraction-1) > 1e-3 {
		t.Errorf("fraction %g of %s (the profile's FP32 peak is the FMA pipe's rate)", p.Fraction, p.Limit)
	}
	// IMAD-heavy: the fmaheavy half binds at 2 per clock.
	w.Pipe[sass.PipeFMA], w.Pipe[sass.PipeIMAD] = 0, ffma
	p, _ = Predict(w, d)
	if p.Binding != "fma pipe" || !near(p.Seconds, 4*ffma/d.IMADRate.V/d.ClockHz.V) || !strings.Contains(p.Bounds[0].Detail, "fmaheavy") {
		t.Errorf("IMAD: %s %.6g s (%s)", p.Binding, p.Seconds, p.Bounds[0].Detail)
	}
}

// The same shared-memory loop without and with an 8-way bank conflict: the
// shared path takes 8 times as long, and binds.
func TestEightWayConflictIsEightTimesSlower(t *testing.T) {
	d := H100()
	base := Workload{Kernel: "lds", CTAs: 132 * 8, ThreadsPerCTA: 256, RegsPerThread: 24,
		WarpInstrs: 8 * 1200, DRAMBytes: 1 << 20, L2Bytes: 1 << 20, TripsPerWarp: 1, Roof: RoofMemory}
	base.Pipe[sass.PipeLSU] = 8 * 1000
	base.Pipe[sass.PipeALU] = 8 * 200
	free, conflicted := base, base
	free.SharedWavefronts = 8 * 1000
	conflicted.SharedWavefronts = 8 * 8000
	pf, err := Predict(free, d)
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := Predict(conflicted, d)
	if r := pc.Bound("L1/shared data path") / pf.Bound("L1/shared data path"); !near(r, 8) {
		t.Errorf("shared path ratio %g, want 8", r)
	}
	if pc.Binding != "L1/shared data path" || !near(pc.Seconds/pf.Seconds, 8) {
		t.Errorf("conflicted: %s %.4g s vs %s %.4g s", pc.Binding, pc.Seconds, pf.Binding, pf.Seconds)
	}
}

func TestOccupancyOfTheShippedKernels(t *testing.T) {
	d := H200()
	cases := []struct {
		threads, regs, shared, ctas int
		limit                       string
	}{
		{128, 47, 0, 10, "registers"},     // gemv M=1 (gpu-kernel-analysis.md: 10 blocks, 40 warps)
		{128, 92, 0, 5, "registers"},      // gemv M=8: 5 blocks
		{128, 145, 43008, 3, "registers"}, // bf16 tensor-core GEMM: 3 blocks
		{128, 32, 100 << 10, 2, "shared memory"},
		{1024, 16, 0, 2, "warps"},
		{32, 8, 0, 32, "blocks"},
	}
	for _, c := range cases {
		n, _, lim, err := Occupancy(Workload{ThreadsPerCTA: c.threads, RegsPerThread: c.regs, SharedPerCTA: c.shared}, d)
		if err != nil || n != c.ctas || lim != c.limit {
			t.Errorf("%+v: %d blocks limited by %s (%v)", c, n, lim, err)
		}
	}
	if _, _, _, err := Occupancy(Workload{ThreadsPerCTA: 128, SharedPerCTA: 300 << 10}, d); err == nil {
		t.Error("300 KB of shared memory fit")
	}
	if _, _, _, err := Occupancy(Workload{ThreadsPerCTA: 2048}, d); err == nil {
		t.Error("2048 threads fit in a block")
	}
}

func TestWavesTailAndLatency(t *testing.T) {
	d := H200()
	// 1024 blocks of 4 warps, 2 dependent trips each: one partial wave.
	w := Workload{Kernel: "gemv-like", CTAs: 1024, ThreadsPerCTA: 128, RegsPerThread: 47,
		WarpInstrs: 4 * 650, DRAMBytes: 9.5e6, TripsPerWarp: 2, Roof: RoofMemory}
	p, err := Predict(w, d)
	if err != nil {
		t.Fatal(err)
	}
	if !near(p.Waves, 1024.0/1320) || p.BusiestSMCTAs != 8 || !near(p.Tail, 1-1024.0/(132*8)) {
		t.Errorf("waves %g, busiest %d, tail %g", p.Waves, p.BusiestSMCTAs, p.Tail)
	}
	if got := p.Bound("latency"); !near(got, 2*d.DRAMLatency.V) {
		t.Errorf("latency bound %g s, want 2 round trips", got)
	}
	if _, err := Predict(Workload{Kernel: "none", CTAs: 0, ThreadsPerCTA: 32}, d); err == nil {
		t.Error("empty grid predicted")
	}
}

func TestDeviceProfilesCarrySources(t *testing.T) {
	for _, d := range Devices() {
		for _, f := range d.Facts() {
			if f.V <= 0 || f.Source == "" || f.Kind == "" {
				t.Errorf("%s: %s = %g, kind %q, source %q", d.Key, f.Name, f.V, f.Kind, f.Source)
			}
		}
		if len(d.Assumptions()) < 4 {
			t.Errorf("%s: %d assumptions listed", d.Key, len(d.Assumptions()))
		}
		if got, err := DeviceByName(strings.ToUpper(d.Key)); err != nil || got.Name != d.Name {
			t.Errorf("DeviceByName(%s): %v %v", d.Key, got.Name, err)
		}
	}
	if _, err := DeviceByName("a100"); err == nil || !strings.Contains(err.Error(), "h100, h200") {
		t.Errorf("unknown device: %v", err)
	}
}
