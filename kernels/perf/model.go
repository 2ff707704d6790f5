package perf

import (
	"fmt"
	"math"
	"sort"

	"github.com/nf4go/nf4/kernels/internal/sass"
)

// Roofline is what a kernel's fraction is measured against.
type Roofline string

// Rooflines.
const (
	// RoofMemory: the bytes the problem must move at DRAM copy bandwidth.
	RoofMemory Roofline = "memory"
	// RoofFP32: the problem's FLOPs at the FP32 peak, or its bytes if that is longer.
	RoofFP32 Roofline = "fp32"
	// RoofTensor: the problem's FLOPs at the dense bf16 tensor peak, or its bytes.
	RoofTensor Roofline = "tensor"
)

// Workload is what one launch asks of the device, in counts: the model's
// input. Per-block figures are means over the grid's blocks.
type Workload struct {
	Kernel        string
	CTAs          int // blocks in the grid
	ThreadsPerCTA int
	RegsPerThread int
	SharedPerCTA  int // bytes, static and dynamic

	// Per block: warp-level SASS instructions issued, in total and per
	// pipe; tensor multiply-adds of mma.sync (HMMA) and of warpgroup MMA
	// (HGMMA); wavefronts on the L1 data path for global (and local)
	// accesses and for shared memory (loads, stores, ldmatrix, the shared
	// side of cp.async); shuffles.
	WarpInstrs       float64
	Pipe             [sass.NumPipes]float64
	MmaSyncFMAs      float64
	WarpgroupFMAs    float64
	L1Wavefronts     float64
	SharedWavefronts float64
	Shuffles         float64

	// Whole launch: bytes to and from DRAM, bytes between L2 and the SMs.
	DRAMBytes, L2Bytes float64
	// TripsPerWarp is how many dependent memory round trips one warp
	// makes: the trips of its main loop, 1 for straight-line code.
	TripsPerWarp float64
	// TripLatency is the latency of one round trip (s); 0 means the
	// device's DRAM latency.
	TripLatency float64

	// FLOPs is the useful work (2 per multiply-add); Roof says what the
	// fraction is of.
	FLOPs float64
	Roof  Roofline
}

// Bound is the time one resource needs for the launch.
type Bound struct {
	Name    string
	Seconds float64
	Detail  string
}

// Prediction is the model's answer for one workload on one device.
type Prediction struct {
	Device string
	// Occupancy: resident blocks and warps per SM and what limits them
	// ("registers", "shared memory", "warps", "blocks").
	CTAsPerSM, WarpsPerSM int
	OccupancyLimit        string
	// Waves is blocks ÷ (SMs × blocks per SM); BusiestSMCTAs the blocks
	// the busiest SM runs (⌈blocks ÷ SMs⌉); Tail the share of SM-time the
	// uneven split leaves idle.
	Waves         float64
	BusiestSMCTAs int
	Tail          float64
	// Little's law: bytes one SM keeps in flight (resident warps × DRAM
	// bytes per warp round trip) against what copy bandwidth needs.
	InFlightPerSM, InFlightNeededPerSM float64

	Bounds  []Bound // largest first
	Binding string  // the largest bound's name
	Seconds float64 // the prediction: the largest bound

	Limit        string  // "DRAM copy bandwidth", "FP32 peak" or "dense bf16 tensor peak"
	LimitSeconds float64 // the limit's time for the problem
	Fraction     float64 // LimitSeconds ÷ Seconds, 0..1
}

// Occupancy computes resident blocks per SM.
func Occupancy(w Workload, d Device) (ctas, warps int, limit string, err error) {
	if w.ThreadsPerCTA < 1 || w.ThreadsPerCTA > 1024 {
		return 0, 0, "", fmt.Errorf("perf: %d threads per block", w.ThreadsPerCTA)
	}
	wpc := (w.ThreadsPerCTA + 31) / 32
	type lim struct {
		n    int
		name string
	}
	lims := []lim{
		{int(d.MaxWarpsPerSM.V) / wpc, "warps"},
		{int(d.MaxCTAsPerSM.V), "blocks"},
	}
	if w.RegsPerThread > 0 {
		unit := int(d.RegAllocUnit.V)
		perWarp := (w.RegsPerThread*32 + unit - 1) / unit * unit
		lims = append(lims, lim{int(d.RegsPerSM.V) / perWarp / wpc, "registers"})
	}
	if w.SharedPerCTA > int(d.SharedPerCTA.V) {
		return 0, 0, "", fmt.Errorf("perf: %d bytes of shared memory per block, the device allows %d", w.SharedPerCTA, int(d.SharedPerCTA.V))
	}
	if w.SharedPerCTA > 0 {
		per := (w.SharedPerCTA+127)/128*128 + int(d.SharedReserved.V)
		lims = append(lims, lim{int(d.SharedPerSM.V) / per, "shared memory"})
	}
	best := lims[0]
	for _, l := range lims[1:] {
		if l.n < best.n {
			best = l
		}
	}
	if best.n < 1 {
		return 0, 0, "", fmt.Errorf("perf: a block does not fit on an SM (%s)", best.name)
	}
	return best.n, best.n * wpc, best.name, nil
}

// Predict applies the model: each resource's time for the launch, and the
// largest of them. Throughput resources inside an SM are charged to the
// busiest SM; memory-system resources to the whole chip; latency as
// dependent round trips per warp in each wave.
func Predict(w Workload, d Device) (Prediction, error) {
	p := Prediction{Device: d.Name}
	if w.CTAs < 1 {
		return p, fmt.Errorf("perf: %s: empty grid", w.Kernel)
	}
	var err error
	p.CTAsPerSM, p.WarpsPerSM, p.OccupancyLimit, err = Occupancy(w, d)
	if err != nil {
		return p, fmt.Errorf("%s: %w", w.Kernel, err)
	}
	sms := d.SMs.V
	p.Waves = float64(w.CTAs) / (sms * float64(p.CTAsPerSM))
	p.BusiestSMCTAs = int(math.Ceil(float64(w.CTAs) / sms))
	p.Tail = 1 - float64(w.CTAs)/(sms*float64(p.BusiestSMCTAs))
	busiest := float64(p.BusiestSMCTAs)
	clk := d.ClockHz.V
	sm := func(name string, perCTA, rate float64, detail string) {
		if perCTA <= 0 {
			return
		}
		cyc := perCTA / rate
		p.Bounds = append(p.Bounds, Bound{name, busiest * cyc / clk,
			fmt.Sprintf("%s: %.4g per block at %.4g/clk, %d blocks on the busiest SM", detail, perCTA, rate, p.BusiestSMCTAs)})
	}
	fp32 := w.Pipe[sass.PipeFMA] + w.Pipe[sass.PipeIMAD]
	if heavy := w.Pipe[sass.PipeIMAD] / d.IMADRate.V; heavy > fp32/d.FMARate.V {
		sm("fma pipe", w.Pipe[sass.PipeIMAD], d.IMADRate.V, "IMAD-family instructions (fmaheavy)")
	} else {
		sm("fma pipe", fp32, d.FMARate.V, "f32 FMA/FMUL/FADD and IMAD instructions")
	}
	sm("alu pipe", w.Pipe[sass.PipeALU], d.ALURate.V, "integer/logic/shift/compare/select instructions")
	sm("xu pipe", w.Pipe[sass.PipeXU], d.XURate.V, "conversions and transcendentals")
	sm("fp64 pipe", w.Pipe[sass.PipeFP64], d.FP64Rate.V, "f64 instructions")
	sm("lsu pipe", w.Pipe[sass.PipeLSU], d.LSURate.V, "memory-pipe instructions (LDG/STG/LDS/STS/LDGSTS/LDSM/SHFL/LDC/S2R)")
	if wf := w.L1Wavefronts + w.SharedWavefronts + w.Shuffles*d.ShuffleWavefronts.V; wf > 0 {
		sm("L1/shared data path", wf, d.L1WavefrontsPerClk.V,
			fmt.Sprintf("wavefronts (global %.4g, shared %.4g, shuffles %.4g × %g)", w.L1Wavefronts, w.SharedWavefronts, w.Shuffles, d.ShuffleWavefronts.V))
	}
	// Issue after the pipes: a pipe that ties with issue is the more
	// telling name.
	sm("issue", w.WarpInstrs, d.Schedulers.V, "warp instructions")
	if tc := w.MmaSyncFMAs/d.MmaSyncEfficiency.V + w.WarpgroupFMAs; tc > 0 {
		cyc := tc / d.TensorFMAsPerClk.V
		p.Bounds = append(p.Bounds, Bound{"tensor pipe", busiest * cyc / d.TensorClockHz.V,
			fmt.Sprintf("%.4g mma.sync FMAs (at %.0f%% of the rate) + %.4g warpgroup FMAs per block, %g FMA/clk at %.3g GHz",
				w.MmaSyncFMAs, 100*d.MmaSyncEfficiency.V, w.WarpgroupFMAs, d.TensorFMAsPerClk.V, d.TensorClockHz.V/1e9)})
	}
	if w.DRAMBytes > 0 {
		p.Bounds = append(p.Bounds, Bound{"DRAM", w.DRAMBytes / d.CopyBandwidth.V,
			fmt.Sprintf("%.4g MB at %.3g TB/s copy bandwidth", w.DRAMBytes/1e6, d.CopyBandwidth.V/1e12)})
	}
	if w.L2Bytes > 0 {
		p.Bounds = append(p.Bounds, Bound{"L2", w.L2Bytes / d.L2Bandwidth.V,
			fmt.Sprintf("%.4g MB between L2 and the SMs at %.3g TB/s", w.L2Bytes/1e6, d.L2Bandwidth.V/1e12)})
	}
	lat := w.TripLatency
	if lat <= 0 {
		lat = d.DRAMLatency.V
	}
	// Little's law: a warp keeps one round trip's DRAM bytes in flight.
	warps := float64(w.CTAs) * float64((w.ThreadsPerCTA+31)/32)
	if w.TripsPerWarp > 0 {
		perTrip := w.DRAMBytes / (warps * w.TripsPerWarp)
		p.InFlightPerSM = math.Min(float64(p.WarpsPerSM), warps/sms) * perTrip
		p.InFlightNeededPerSM = d.CopyBandwidth.V * d.DRAMLatency.V / sms
		waves := math.Ceil(p.Waves)
		p.Bounds = append(p.Bounds, Bound{"latency", waves * w.TripsPerWarp * lat,
			fmt.Sprintf("%g wave(s) × %.4g dependent round trips per warp × %.3g µs (Little's law: %.3g KB of DRAM traffic in flight per SM, %.3g KB needed for copy bandwidth)",
				waves, w.TripsPerWarp, lat*1e6, p.InFlightPerSM/1e3, p.InFlightNeededPerSM/1e3)})
	}
	sort.SliceStable(p.Bounds, func(i, j int) bool { return p.Bounds[i].Seconds > p.Bounds[j].Seconds })
	if len(p.Bounds) == 0 {
		return p, fmt.Errorf("perf: %s: the workload asks nothing of the device", w.Kernel)
	}
	p.Binding, p.Seconds = p.Bounds[0].Name, p.Bounds[0].Seconds

	mem := w.DRAMBytes / d.CopyBandwidth.V
	p.Limit, p.LimitSeconds = "DRAM copy bandwidth", mem
	switch w.Roof {
	case RoofFP32:
		if c := w.FLOPs / d.FP32Peak.V; c > mem {
			p.Limit, p.LimitSeconds = "FP32 peak", c
		}
	case RoofTensor:
		if c := w.FLOPs / d.TensorPeakBF16.V; c > mem {
			p.Limit, p.LimitSeconds = "dense bf16 tensor peak", c
		}
	}
	if p.Seconds > 0 {
		p.Fraction = math.Min(1, p.LimitSeconds/p.Seconds)
	}
	return p, nil
}

// Bound returns the named bound's time, 0 if the model has no such bound.
func (p Prediction) Bound(name string) float64 {
	for _, b := range p.Bounds {
		if b.Name == name {
			return b.Seconds
		}
	}
	return 0
}
