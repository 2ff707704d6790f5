package perf

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/internal/ptxas"
	"github.com/nf4go/nf4/kernels/internal/sass"
	"github.com/nf4go/nf4/kernels/ptx"
	"github.com/nf4go/nf4/kernels/ptxsim"
)

// ErrNoTools means the CUDA 12.4 tools the SASS counts need are missing
// (scripts/install-ptxas.sh 12.4 installs them).
var ErrNoTools = ptxas.ErrNoCUDA12

// Report is the model's account of one kernel on one shape and device.
type Report struct {
	Kernel string
	Target string // the PTX target and SASS architecture, e.g. "sm_90"
	Device string // the profile's key, e.g. "h200"
	Shape  kernels.Shape
	Launch kernels.Launch

	Registers   int // per thread, from ptxas
	SharedBytes int // per block, from ptxas

	// The main loop's machine code: its SASS instructions per trip, the
	// ptxas unroll factor relative to the PTX loop, its mix, and the
	// thread-level instructions it spends per weight (32 lanes × its
	// instructions × warp trips ÷ N·K).
	LoopInstrs      int
	LoopUnroll      int
	LoopMix         sass.Mix
	InstrsPerWeight float64
	WholeMix        sass.Mix // every instruction of the kernel, once

	// Memory, for the whole launch (extrapolated from the sampled blocks):
	// global loads, stores and atomics together and loads alone, shared
	// loads and stores, cp.async, ldmatrix.
	Global, GlobalLoad, Shared, CpAsync, Ldmatrix ptxsim.InstrStats
	Shuffles                                      float64
	// MainLoads are the memory instructions with the most wavefronts, per
	// launch, with the PTX line they come from.
	MainLoads []ptxsim.InstrStats
	// SampledCTAs are the blocks simulated; L1Sharing the share of a
	// block's L1-allocated sectors its co-resident neighbour also reads.
	SampledCTAs int
	L1Sharing   float64

	Workload   Workload
	Prediction Prediction
}

// BankConflicts is the number of shared-memory bank conflicts (excess
// wavefronts) of the launch.
func (r *Report) BankConflicts() int64 {
	return r.Shared.BankConflicts() + r.CpAsync.BankConflicts() + r.Ldmatrix.BankConflicts()
}

// compiled is what ptxas and the simulator make of one kernel and target.
type compiled struct {
	src       string
	sim       *ptxsim.Kernel
	fn        sass.Function
	registers int
	shared    int
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*compiled{}
)

func compile(k kernels.Kernel, t ptx.Target, tools ptxas.Tools) (*compiled, error) {
	key := k.Name() + "/" + t.String() + "/" + tools.Dir
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if c := cache[key]; c != nil {
		return c, nil
	}
	src, err := k.PTX(t)
	if err != nil {
		return nil, err
	}
	mod, err := ptxsim.Load(src)
	if err != nil {
		return nil, err
	}
	sk, err := mod.Kernel(k.Name())
	if err != nil {
		return nil, err
	}
	// Assemble for the architecture the text names (a kernel may print
	// sm_90a, the Hopper-only target, when asked for sm_90).
	res, err := ptxas.Assemble(tools.Ptxas, src, ptxTarget(src, t.String()))
	if err != nil {
		return nil, err
	}
	f := res.Functions[k.Name()]
	if f == nil {
		return nil, fmt.Errorf("perf: ptxas reported no function %s", k.Name())
	}
	text, err := ptxas.SASS(tools.Cuobjdump, res.Cubin)
	if err != nil {
		return nil, err
	}
	fs, err := sass.Parse(text)
	if err != nil {
		return nil, err
	}
	fn, err := sass.Find(fs, k.Name())
	if err != nil {
		return nil, err
	}
	c := &compiled{src: src, sim: sk, fn: fn, registers: f.Registers, shared: f.SharedBytes}
	cache[key] = c
	return c, nil
}

// ptxTarget is the .target of a PTX text, or def.
func ptxTarget(src, def string) string {
	for _, line := range strings.Split(src, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), ".target "); ok {
			if f := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }); len(f) > 0 {
				return f[0]
			}
		}
	}
	return def
}

// Analyze predicts how kernel k runs shape s on device d. It assembles
// the kernel with CUDA 12.4's ptxas (registers, shared memory, the SASS of
// its main loop), simulates a few blocks of the full-size launch on
// generated data (one of each kind: interior and last along each grid
// dimension, plus a co-resident neighbour) for the memory counters and the
// loop trips, and applies the model (Predict). The CUDA tools are found as
// ptxas.FindCUDA12 does; without them the error wraps ErrNoTools.
func Analyze(k kernels.Kernel, s kernels.Shape, d Device) (*Report, error) {
	tools, err := ptxas.FindCUDA12()
	if err != nil {
		return nil, err
	}
	target := ptx.Target{SM: d.SM}
	c, err := compile(k, target, tools)
	if err != nil {
		return nil, fmt.Errorf("perf: %s: %w", k.Name(), err)
	}
	l, err := k.Launch(s)
	if err != nil {
		return nil, fmt.Errorf("perf: %s: %w", k.Name(), err)
	}
	r := &Report{Kernel: k.Name(), Target: target.String(), Device: d.Key, Shape: s, Launch: l,
		Registers: c.registers, SharedBytes: c.shared, WholeMix: sass.Count(c.fn.Instrs)}
	if err := r.simulate(k, c, d); err != nil {
		return nil, fmt.Errorf("perf: %s %v: %w", k.Name(), s, err)
	}
	r.Prediction, err = Predict(r.Workload, d)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// class is a set of blocks expected to cost the same: interior or last
// along each grid dimension.
type class struct {
	rep   [3]int
	count int
}

// classes splits the grid into its kinds of block; full[i] says the last
// block along dimension i does the same work as the others.
func classes(grid [3]int, full [3]bool) []class {
	type opt struct{ idx, count int }
	var dims [3][]opt
	for i, g := range grid {
		switch {
		case g > 1 && full[i]:
			dims[i] = append(dims[i], opt{(g - 1) / 2, g})
		case g > 1:
			dims[i] = append(dims[i], opt{(g - 1) / 2, g - 1}, opt{g - 1, 1})
		default:
			dims[i] = append(dims[i], opt{0, 1})
		}
	}
	var cs []class
	for _, x := range dims[0] {
		for _, y := range dims[1] {
			for _, z := range dims[2] {
				cs = append(cs, class{[3]int{x.idx, y.idx, z.idx}, x.count * y.count * z.count})
			}
		}
	}
	return cs
}

// fullEdges reports, per grid dimension, whether the problem fills its last
// block, so that block costs what the others do. It asks the kernel's
// Launch: a dimension of the shape that maps to grid dimension i fills it
// when one more row adds a block there. (For a grid over a product, as
// dequantize's over N·K, this can call a last block full when it is not:
// at most one block's error.)
func fullEdges(k kernels.Kernel, s kernels.Shape, grid [3]int) [3]bool {
	full := [3]bool{true, true, true}
	for dim := 0; dim < 3; dim++ {
		grown := func(by int) ([3]int, bool) {
			t := s
			switch dim {
			case 0:
				t.M += by
			case 1:
				t.N += by
			default:
				t.K += by
			}
			l, err := k.Launch(t)
			return l.Grid, err == nil
		}
		one, ok := grown(1)
		if !ok && dim == 2 {
			// K moves in whole blocks of the NF4 block size.
			one, ok = grown(s.BlockSize)
		}
		if !ok {
			continue // a dimension the kernel fixes (gemv's M)
		}
		for i := range grid {
			if one[i] > grid[i] {
				continue
			}
			// Unchanged by one more row: partial last block, unless the
			// dimension does not map to i at all.
			for by := 2; by <= 1<<20; by *= 2 {
				if g, ok := grown(by); ok && g[i] != grid[i] {
					full[i] = false
					break
				}
			}
		}
	}
	return full
}

func linear(c, grid [3]int) int { return c[0] + grid[0]*(c[1]+grid[1]*c[2]) }
func unlinear(i int, grid [3]int) [3]int {
	return [3]int{i % grid[0], i / grid[0] % grid[1], i / (grid[0] * grid[1])}
}

// perCTA are the simulated counts of one class, per block.
type perCTA struct {
	global, load, shared, cp, ldm ptxsim.InstrStats
	shuffles, trips               float64
	loopLoads                     bool    // the main loop waits on global memory
	cached, missed                float64 // L1-allocated distinct sectors, and those that missed L1
	l2                            float64 // all sectors sent to L2
	hot                           []ptxsim.InstrStats
}

// addScaled adds f times s's counters to dst (rounded: per-block means of
// a few blocks are integers or halves, and launch totals large).
func addScaled(dst *ptxsim.InstrStats, s ptxsim.InstrStats, f float64) {
	r := func(v int64) int64 { return int64(math.Round(float64(v) * f)) }
	dst.WarpExecs += r(s.WarpExecs)
	dst.ThreadExecs += r(s.ThreadExecs)
	dst.Requests += r(s.Requests)
	dst.Bytes += r(s.Bytes)
	dst.Sectors += r(s.Sectors)
	dst.Lines += r(s.Lines)
	dst.Wavefronts += r(s.Wavefronts)
	dst.IdealWavefronts += r(s.IdealWavefronts)
	dst.L2Sectors += r(s.L2Sectors)
}

func scaleStats(s ptxsim.InstrStats, f float64) ptxsim.InstrStats {
	t := ptxsim.InstrStats{Line: s.Line, Text: s.Text, Class: s.Class}
	addScaled(&t, s, f)
	return t
}

func (p *perCTA) addScaled(o perCTA, f float64) {
	addScaled(&p.global, o.global, f)
	addScaled(&p.load, o.load, f)
	addScaled(&p.shared, o.shared, f)
	addScaled(&p.cp, o.cp, f)
	addScaled(&p.ldm, o.ldm, f)
	p.shuffles += o.shuffles * f
	p.trips += o.trips * f
	p.loopLoads = p.loopLoads || o.loopLoads
	p.cached += o.cached * f
	p.missed += o.missed * f
	p.l2 += o.l2 * f
}

func sumClasses(kp *ptxsim.KernelProfile, cs ...ptxsim.MemClass) ptxsim.InstrStats {
	var t ptxsim.InstrStats
	for _, c := range cs {
		s := kp.Sum(c)
		t.WarpExecs += s.WarpExecs
		t.Requests += s.Requests
		t.Bytes += s.Bytes
		t.Sectors += s.Sectors
		t.Lines += s.Lines
		t.Wavefronts += s.Wavefronts
		t.IdealWavefronts += s.IdealWavefronts
		t.L2Sectors += s.L2Sectors
	}
	return t
}

// measure turns a profile of n blocks into per-block counts.
func measure(kp *ptxsim.KernelProfile, n int) perCTA {
	var p perCTA
	p.global = sumClasses(kp, ptxsim.GlobalLoad, ptxsim.GlobalStore, ptxsim.GlobalAtomic)
	p.load = kp.Sum(ptxsim.GlobalLoad)
	p.shared = sumClasses(kp, ptxsim.SharedLoad, ptxsim.SharedStore, ptxsim.SharedAtomic)
	p.cp = sumClasses(kp, ptxsim.CpAsync, ptxsim.TensorCopy)
	p.ldm = kp.Sum(ptxsim.Ldmatrix)
	p.shuffles = float64(kp.Sum(ptxsim.Shuffle).Requests)
	if ls := kp.Loops(); len(ls) > 0 {
		p.trips = float64(kp.Trips(ls[0]))
		p.loopLoads = loadsIn(kp, ls[0])
	}
	for _, c := range kp.CTAs {
		p.cached += float64(c.CachedSectors)
		p.missed += float64(c.MissedSectors)
	}
	for _, in := range kp.Instrs {
		p.l2 += float64(in.L2Sectors)
	}
	p.hot = kp.Hottest(4)
	out := perCTA{hot: p.hot}
	out.addScaled(p, 1/float64(n))
	return out
}

// simulate runs the sampled blocks and fills the workload.
func (r *Report) simulate(k kernels.Kernel, c *compiled, d Device) error {
	dev := ptxsim.NewDevice()
	args, bufs, err := arguments(dev, k, r.Shape)
	if err != nil {
		return err
	}
	grid, block := r.Launch.Grid, r.Launch.Block
	total := grid[0] * grid[1] * grid[2]
	threads := block[0] * block[1] * block[2]
	warpsPerCTA := (threads + 31) / 32
	w := Workload{Kernel: k.Name(), CTAs: total, ThreadsPerCTA: threads, RegsPerThread: c.registers, SharedPerCTA: c.shared + r.Launch.DynamicShared}
	ctasPerSM, _, _, err := Occupancy(w, d)
	if err != nil {
		return err
	}

	// Each block gets its share of the L1 that shared memory leaves.
	resident := math.Min(float64(ctasPerSM), math.Ceil(float64(total)/d.SMs.V))
	l1 := (d.L1SharedBytes.V - resident*float64(w.SharedPerCTA)) / resident
	var avg perCTA
	var interior perCTA
	var sharing float64
	for i, cl := range classes(grid, fullEdges(k, r.Shape, grid)) {
		blocks := [][3]int{cl.rep}
		// The first class is the largest (interior everywhere): it runs
		// with the block that shares its SM, to see what their L1 shares.
		nb := linear(cl.rep, grid) + int(d.SMs.V)
		withNeighbour := i == 0 && cl.count > 1 && nb < total && cl.count >= total/2
		if withNeighbour {
			blocks = append(blocks, unlinear(nb, grid))
		}
		dev.Profile = ptxsim.NewProfile()
		dev.Profile.L1Bytes = int64(math.Max(l1, 0))
		if err := dev.LaunchBlocks(c.sim, grid, block, r.Launch.DynamicShared, blocks, args...); err != nil {
			return err
		}
		kp := dev.Profile.Kernel(k.Name())
		m := measure(kp, len(blocks))
		if withNeighbour && len(kp.CTAs) == 2 {
			a, b := float64(kp.CTAs[0].CachedSectors), float64(kp.CTAs[1].CachedSectors)
			if a > 0 {
				sharing = math.Max(0, (a+b-float64(kp.UniqueCachedSectors))/a)
			}
		}
		if i == 0 {
			interior = m
		}
		r.SampledCTAs += len(blocks)
		avg.addScaled(m, float64(cl.count)/float64(total))
	}
	r.L1Sharing = sharing
	n := float64(total)
	r.Global, r.GlobalLoad = scaleStats(avg.global, n), scaleStats(avg.load, n)
	r.Shared, r.CpAsync, r.Ldmatrix = scaleStats(avg.shared, n), scaleStats(avg.cp, n), scaleStats(avg.ldm, n)
	r.Shuffles = avg.shuffles * n
	for _, h := range interior.hot {
		r.MainLoads = append(r.MainLoads, scaleStats(h, n))
	}

	// L2: the sectors each block's L1 missed (or that skip L1), less
	// the misses of data its co-resident blocks read too: one of them
	// brings it into the SM's L1.
	eff := avg.missed
	if resident > 1 {
		eff *= 1 - sharing*(resident-1)/resident
	}
	w.L2Bytes = 32 * n * (avg.l2 - avg.missed + eff)
	for _, b := range bufs {
		if !b.scratch {
			w.DRAMBytes += float64(b.bytes)
		}
	}

	// Machine code: the main loop runs trips ÷ unroll times per warp, the
	// rest once.
	tripsPerWarp := avg.trips / float64(warpsPerCTA)
	loop, hasLoop := c.fn.MainLoop()
	r.LoopUnroll = 1
	whole := sass.Count(c.fn.Instrs)
	perWarp := make([]float64, sass.NumPipes)
	var issue, mmaSync, gmma float64
	if hasLoop {
		r.LoopInstrs = len(loop.Instrs)
		r.LoopMix = sass.Count(loop.Instrs)
		if pl := ptxLoopWork(dev.Profile.Kernel(k.Name())); pl > 0 {
			if u := int(math.Round(float64(sassWork(loop.Instrs)) / float64(pl))); u > 1 {
				r.LoopUnroll = u
			}
		}
		t := tripsPerWarp / float64(r.LoopUnroll)
		for p := sass.Pipe(0); p < sass.NumPipes; p++ {
			perWarp[p] = float64(r.LoopMix.ByPipe[p])*t + float64(whole.ByPipe[p]-r.LoopMix.ByPipe[p])
		}
		issue = float64(r.LoopMix.Total)*t + float64(whole.Total-r.LoopMix.Total)
		mma := func(instrs []sass.Instr) (hmma, hgmma float64) {
			for _, in := range instrs {
				if f := float64(sass.TensorFMAs(in)); f > 0 {
					if in.Base() == "HGMMA" || in.Base() == "IGMMA" || in.Base() == "QGMMA" || in.Base() == "BGMMA" {
						hgmma += f
					} else {
						hmma += f
					}
				}
			}
			return
		}
		lh, lg := mma(loop.Instrs)
		wh, wg := mma(c.fn.Instrs)
		mmaSync = lh*t + (wh - lh)
		gmma = lg*t + (wg - lg)
		if nk := float64(r.Shape.N) * float64(r.Shape.K); nk > 0 {
			r.InstrsPerWeight = 32 * float64(r.LoopInstrs) * tripsPerWarp / float64(r.LoopUnroll) * float64(warpsPerCTA) * n / nk
		}
	} else {
		r.LoopMix = whole
		for p := sass.Pipe(0); p < sass.NumPipes; p++ {
			perWarp[p] = float64(whole.ByPipe[p])
		}
		issue = float64(whole.Total)
		for _, in := range c.fn.Instrs {
			mmaSync += float64(sass.TensorFMAs(in))
		}
		if nk := float64(r.Shape.N) * float64(r.Shape.K); nk > 0 {
			r.InstrsPerWeight = 32 * float64(whole.Total) * float64(warpsPerCTA) * n / nk
		}
	}
	wpc := float64(warpsPerCTA)
	w.WarpInstrs = issue * wpc
	for p := range w.Pipe {
		w.Pipe[p] = perWarp[p] * wpc
	}
	w.MmaSyncFMAs, w.WarpgroupFMAs = mmaSync*wpc, gmma*wpc
	w.L1Wavefronts = float64(avg.global.Wavefronts)
	w.SharedWavefronts = float64(avg.shared.Wavefronts + avg.cp.Wavefronts + avg.ldm.Wavefronts)
	w.Shuffles = avg.shuffles
	w.TripsPerWarp = 1
	if avg.loopLoads {
		w.TripsPerWarp = math.Max(1, tripsPerWarp)
	}
	// A round trip waits on DRAM for the share of L2 traffic DRAM
	// serves, on L2 for the rest.
	if w.L2Bytes > 0 {
		f := math.Min(1, w.DRAMBytes/w.L2Bytes)
		w.TripLatency = f*d.DRAMLatency.V + (1-f)*d.L2Latency.V
	}
	w.Roof = roofOf(k)
	switch k.(type) {
	case *kernels.Gemv, *kernels.GemvTC, *kernels.Gemm, *kernels.GemmTC, *kernels.GemmWG:
		w.FLOPs = 2 * float64(r.Shape.M) * float64(r.Shape.N) * float64(r.Shape.K)
	}
	r.Workload = w
	return nil
}

// roofOf says what a kernel's fraction is of: a kernel may say so itself
// with a Roofline() string method ("memory", "fp32" or "tensor").
func roofOf(k kernels.Kernel) Roofline {
	if r, ok := k.(interface{ Roofline() string }); ok {
		return Roofline(r.Roofline())
	}
	switch k.(type) {
	case *kernels.GemmTC, *kernels.GemmWG:
		return RoofTensor
	case *kernels.Gemm:
		return RoofFP32
	}
	return RoofMemory
}

// loadsIn reports whether a loop reads global memory (a load or a
// cp.async), so each trip waits on a round trip.
func loadsIn(kp *ptxsim.KernelProfile, l ptxsim.Loop) bool {
	for _, in := range kp.Instrs[l.Start : l.End+1] {
		if in.Class == ptxsim.GlobalLoad || in.Class == ptxsim.CpAsync || in.Class == ptxsim.TensorCopy {
			return true
		}
	}
	return false
}

// ptxLoopWork counts the instructions of the PTX main loop's body that map
// one to one onto SASS (memory accesses, shuffles, f32/f16 arithmetic,
// mma), so that their ratio in the SASS loop tells how often ptxas
// unrolled it.
func ptxLoopWork(kp *ptxsim.KernelProfile) int {
	if kp == nil {
		return 0
	}
	ls := kp.Loops()
	if len(ls) == 0 {
		return 0
	}
	n := 0
	for _, in := range kp.Instrs[ls[0].Start : ls[0].End+1] {
		switch in.Class {
		case ptxsim.MemNone:
			op, _, _ := strings.Cut(in.Text, " ")
			if strings.HasPrefix(op, "@") {
				_, op, _ = strings.Cut(in.Text, " ")
				op, _, _ = strings.Cut(op, " ")
			}
			base, _, _ := strings.Cut(op, ".")
			switch base {
			case "fma", "mad", "mul", "add", "sub":
				if strings.Contains(op, ".f32") || strings.Contains(op, ".f16") || strings.Contains(op, ".bf16") {
					n++
				}
			case "mma", "wgmma":
				n++
			}
		case ptxsim.ConstLoad, ptxsim.ParamLoad:
		default:
			n++
		}
	}
	return n
}

// sassWork counts the SASS instructions that match ptxLoopWork's.
func sassWork(instrs []sass.Instr) int {
	n := 0
	for _, in := range instrs {
		switch in.Base() {
		case "LDG", "STG", "LDS", "STS", "LD", "ST", "LDGSTS", "LDSM", "SHFL", "ATOM", "ATOMS", "ATOMG", "RED", "REDG",
			"FFMA", "FMUL", "FADD", "HFMA2", "HADD2", "HMUL2", "HMMA", "HGMMA":
			n++
		}
	}
	return n
}
