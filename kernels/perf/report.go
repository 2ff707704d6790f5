package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/internal/sass"
)

// Case is one kernel on one problem shape.
type Case struct {
	Kernel kernels.Kernel
	Shape  kernels.Shape
}

// StandardShapes are the weight shapes (N out × K in) the model reports:
// square 4096 and 8192, and Llama-style 11008×4096, 4096×11008, 14336×4096.
var StandardShapes = [][2]int{{4096, 4096}, {8192, 8192}, {11008, 4096}, {4096, 11008}, {14336, 4096}}

// StandardMs are the batch sizes it reports.
var StandardMs = []int{1, 2, 4, 8, 16, 64, 512, 4096}

// Cases lists, for every shape, the kernels the CUDA backend launches on a
// device of sms multiprocessors (block size 64, plain scales): the float32
// dequantize once (M = 0: it has no batch), and the bf16 one the kernels
// package offers beside it, the GEMV for each M ≤ 8 with
// the rows per block chosen for the shape (and for M ≥ 2 the bf16
// tensor-core GEMV, with its tiles per block chosen so), and for larger M
// the float32 GEMM, the bf16 tensor-core GEMM and the backward
// (transposed) GEMM of each mode, the tensor-core ones split along the
// reduction as TCSplitsFor picks for sms, and up to kernels.MaxGemvTCM the
// bf16 tensor-core GEMV too.
func Cases(shapes [][2]int, ms []int, sms int) []Case {
	var cs []Case
	deq, _ := kernels.NewDequantize(kernels.OutF32, 64, false)
	deqBF16, _ := kernels.NewDequantize(kernels.OutBF16, 64, false)
	gemm, _ := kernels.NewGemm(64, false, false)
	tc, _ := kernels.NewGemmTC(64, false)
	back, _ := kernels.NewGemm(64, false, true)
	backTC, _ := kernels.NewGemmTCTransposed(64, false)
	for _, nk := range shapes {
		s := kernels.Shape{N: nk[0], K: nk[1], BlockSize: 64}
		cs = append(cs, Case{deq, s}, Case{deqBF16, s})
		for _, m := range ms {
			s.M = m
			if m <= kernels.MaxGemvM {
				g, err := kernels.NewGemvFor(m, s.N, sms, 64, false)
				if err == nil {
					cs = append(cs, Case{g, s})
				}
				if t, err := kernels.NewGemvTCFor(m, s.N, sms, 64, false); err == nil {
					cs = append(cs, Case{t, s})
				}
				continue
			}
			if m <= kernels.MaxGemvTCM {
				if t, err := kernels.NewGemvTCFor(m, s.N, sms, 64, false); err == nil {
					cs = append(cs, Case{t, s})
				}
			}
			tc, backTC := tc, backTC
			// The split the CUDA backend picks when the tiles are under a wave.
			if g, err := kernels.NewGemmTCFor(m, s.N, s.K, sms, 64, false); err == nil && g.Splits > 1 {
				tc = g
			}
			if g, err := kernels.NewGemmTCTransposedFor(m, s.N, s.K, sms, 64, false); err == nil && g.Splits > 1 {
				backTC = g
			}
			cs = append(cs, Case{gemm, s}, Case{tc, s}, Case{back, s}, Case{backTC, s})
		}
	}
	return cs
}

// AnalyzeAll runs Analyze on every case, on up to GOMAXPROCS goroutines,
// and returns the reports in the cases' order.
func AnalyzeAll(cs []Case, d Device) ([]*Report, error) {
	out := make([]*Report, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = Analyze(cs[i].Kernel, cs[i].Shape, d)
			}
		}()
	}
	for i := range cs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Record is a report as one flat JSON object (the -json form of
// go run ./kernels/cmd/ptxdump -perf).
type Record struct {
	Model           string         `json:"model"` // always "nf4 perf model: a prediction, not a measurement"
	Kernel          string         `json:"kernel"`
	Target          string         `json:"target"`
	Device          string         `json:"device"`
	M               int            `json:"m"`
	N               int            `json:"n"`
	K               int            `json:"k"`
	BlockSize       int            `json:"block_size"`
	Bound           string         `json:"bound"`
	PredictedUS     float64        `json:"predicted_us"`
	Limit           string         `json:"limit"`
	LimitUS         float64        `json:"limit_us"`
	Fraction        float64        `json:"fraction"`
	Grid            [3]int         `json:"grid"`
	Block           [3]int         `json:"block"`
	Registers       int            `json:"registers"`
	SharedBytes     int            `json:"shared_bytes"`
	CTAsPerSM       int            `json:"blocks_per_sm"`
	OccupancyLimit  string         `json:"occupancy_limit"`
	Waves           float64        `json:"waves"`
	Tail            float64        `json:"tail"`
	DRAMBytes       float64        `json:"dram_bytes"`
	L2Bytes         float64        `json:"l2_bytes"`
	GlobalRequests  int64          `json:"global_requests"`
	GlobalSectors   int64          `json:"global_sectors"`
	GlobalWaves     int64          `json:"global_wavefronts"`
	LoadRequests    int64          `json:"global_load_requests"`
	LoadSectors     int64          `json:"global_load_sectors"`
	LoadWaves       int64          `json:"global_load_wavefronts"`
	SharedOnlyWaves int64          `json:"shared_load_store_wavefronts"`
	CpAsyncWaves    int64          `json:"cp_async_shared_wavefronts"`
	SharedWaves     int64          `json:"shared_wavefronts"`
	BankConflicts   int64          `json:"bank_conflicts"`
	CpAsyncBytes    int64          `json:"cp_async_bytes"`
	Shuffles        float64        `json:"shuffles"`
	MainLoad        *LoadRecord    `json:"main_load,omitempty"`
	LoopInstrs      int            `json:"loop_sass_instructions"`
	InstrsPerWeight float64        `json:"instructions_per_weight"`
	LoopPipes       map[string]int `json:"loop_pipes"`
	WarpInstrs      float64        `json:"warp_instructions"`
	InFlightPerSM   float64        `json:"bytes_in_flight_per_sm"`
	InFlightNeeded  float64        `json:"bytes_in_flight_needed_per_sm"`
	Bounds          []BoundRecord  `json:"bounds"`
}

// LoadRecord is the costliest memory instruction.
type LoadRecord struct {
	Line              int     `json:"ptx_line"`
	Text              string  `json:"ptx"`
	Class             string  `json:"class"`
	SectorsPerRequest float64 `json:"sectors_per_request"`
	WavesPerRequest   float64 `json:"wavefronts_per_request"`
}

// BoundRecord is one resource's time.
type BoundRecord struct {
	Name   string  `json:"name"`
	US     float64 `json:"us"`
	Detail string  `json:"detail"`
}

// Record flattens the report.
func (r *Report) Record() Record {
	p := r.Prediction
	rec := Record{Model: "nf4 perf model: a prediction, not a measurement",
		Kernel: r.Kernel, Target: r.Target, Device: r.Device,
		M: r.Shape.M, N: r.Shape.N, K: r.Shape.K, BlockSize: r.Shape.BlockSize,
		Bound: p.Binding, PredictedUS: p.Seconds * 1e6, Limit: p.Limit, LimitUS: p.LimitSeconds * 1e6, Fraction: p.Fraction,
		Grid: r.Launch.Grid, Block: r.Launch.Block, Registers: r.Registers, SharedBytes: r.SharedBytes,
		CTAsPerSM: p.CTAsPerSM, OccupancyLimit: p.OccupancyLimit, Waves: p.Waves, Tail: p.Tail,
		DRAMBytes: r.Workload.DRAMBytes, L2Bytes: r.Workload.L2Bytes,
		GlobalRequests: r.Global.Requests, GlobalSectors: r.Global.Sectors, GlobalWaves: r.Global.Wavefronts,
		LoadRequests: r.GlobalLoad.Requests, LoadSectors: r.GlobalLoad.Sectors, LoadWaves: r.GlobalLoad.Wavefronts,
		SharedOnlyWaves: r.Shared.Wavefronts + r.Ldmatrix.Wavefronts, CpAsyncWaves: r.CpAsync.Wavefronts,
		SharedWaves: r.Shared.Wavefronts + r.CpAsync.Wavefronts + r.Ldmatrix.Wavefronts, BankConflicts: r.BankConflicts(),
		CpAsyncBytes: r.CpAsync.Bytes, Shuffles: r.Shuffles,
		LoopInstrs: r.LoopInstrs, InstrsPerWeight: r.InstrsPerWeight, LoopPipes: map[string]int{},
		WarpInstrs:    r.Workload.WarpInstrs * float64(r.Workload.CTAs),
		InFlightPerSM: p.InFlightPerSM, InFlightNeeded: p.InFlightNeededPerSM,
	}
	for pi := sass.Pipe(0); pi < sass.NumPipes; pi++ {
		if n := r.LoopMix.ByPipe[pi]; n > 0 {
			rec.LoopPipes[pi.String()] = n
		}
	}
	if len(r.MainLoads) > 0 {
		h := r.MainLoads[0]
		rec.MainLoad = &LoadRecord{h.Line, h.Text, h.Class.String(), h.SectorsPerRequest(), h.WavefrontsPerRequest()}
	}
	for _, b := range p.Bounds {
		rec.Bounds = append(rec.Bounds, BoundRecord{b.Name, b.Seconds * 1e6, b.Detail})
	}
	return rec
}

// WriteJSON writes one JSON object per report, one per line.
func WriteJSON(w io.Writer, rs []*Report) error {
	enc := json.NewEncoder(w)
	for _, r := range rs {
		if err := enc.Encode(r.Record()); err != nil {
			return err
		}
	}
	return nil
}

// WriteTable writes the reports as a Markdown table.
func WriteTable(w io.Writer, rs []*Report) {
	fmt.Fprintln(w, "| kernel | M | N×K | DRAM MB | main memory op: sectors/req, wavefronts/req | bank conflicts | SASS/weight (loop) | blocks/SM (limit) | waves | bound | predicted µs | fraction of limit |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		p := r.Prediction
		main := "-"
		if len(r.MainLoads) > 0 {
			h := r.MainLoads[0]
			main = fmt.Sprintf("%s %.3g, %.3g", shortClass(h.Class.String()), h.SectorsPerRequest(), h.WavefrontsPerRequest())
		}
		m := fmt.Sprint(r.Shape.M)
		if r.Shape.M == 0 {
			m = "-"
		}
		fmt.Fprintf(w, "| %s | %s | %d×%d | %.4g | %s | %s | %.3g | %d (%s) | %.3g | %s | %.4g | %.1f%% of %s |\n",
			r.Kernel, m, r.Shape.N, r.Shape.K, r.Workload.DRAMBytes/1e6, main, count(r.BankConflicts()),
			r.InstrsPerWeight, p.CTAsPerSM, shortLimit(p.OccupancyLimit), p.Waves, p.Binding, p.Seconds*1e6, 100*p.Fraction, shortRoof(p.Limit))
	}
}

func count(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3gG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3gM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.3gk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func shortClass(c string) string {
	return strings.NewReplacer("global load", "ld.global", "global store", "st.global", "shared load", "ld.shared",
		"shared store", "st.shared", "cp.async", "cp.async").Replace(c)
}

func shortLimit(l string) string {
	return strings.NewReplacer("registers", "regs", "shared memory", "smem").Replace(l)
}

func shortRoof(l string) string {
	return strings.NewReplacer("DRAM copy bandwidth", "copy BW", "dense bf16 tensor peak", "bf16 peak").Replace(l)
}

// WriteAssumptions lists what the model assumes, for the output: the
// device profile's assumed numbers and the model's own rules.
func WriteAssumptions(w io.Writer, d Device) {
	fmt.Fprintf(w, "Model assumptions (%s):\n", d.Name)
	for _, a := range ModelAssumptions {
		fmt.Fprintf(w, "- %s\n", a)
	}
	as := d.Assumptions()
	sort.SliceStable(as, func(i, j int) bool { return as[i].Name < as[j].Name })
	for _, f := range as {
		fmt.Fprintf(w, "- %s = %.4g: %s\n", f.Name, f.V, f.Source)
	}
}

// ModelAssumptions are the rules the model applies beyond the profile.
var ModelAssumptions = []string{
	"a prediction, not a measurement: the largest of the resource bounds, as if everything else overlapped perfectly; no stall other than a memory round trip is modelled",
	"DRAM traffic is compulsory: every byte of the inputs read once and of the outputs written once (re-reads hit L2)",
	"L1 and shared wavefronts follow the shared-memory bank rule (kernels/ptxsim Profile), for global accesses too: a lane-strided 16-byte load at a 128-byte stride takes 32 wavefronts, not the 8 a tag-limited L1 would",
	"a block's L1 share is (L1+shared − resident blocks' shared memory) ÷ resident blocks, least recently used; co-resident blocks that read the same data (a block and the one SMs later in launch order) share it",
	"issue is one warp instruction per clock per scheduler; the main loop's SASS (the largest backward branch) runs as often as the PTX loop, the rest once per warp",
	"a warp makes one dependent memory round trip per main-loop trip (one for straight-line code), at DRAM latency for the share of L2 traffic that DRAM serves and L2 latency for the rest",
	"blocks are spread evenly: the busiest SM runs ⌈blocks ÷ SMs⌉ of them",
	"the simulated blocks (one of each kind: interior, last along each grid dimension) stand for all blocks of their kind",
}

// WriteHotLines lists, per report, its n costliest memory instructions
// (most wavefronts) with their PTX line, per launch.
func WriteHotLines(w io.Writer, rs []*Report, n int) {
	for _, r := range rs {
		fmt.Fprintf(w, "%s M=%d %d×%d:\n", r.Kernel, r.Shape.M, r.Shape.N, r.Shape.K)
		for i, h := range r.MainLoads {
			if i == n {
				break
			}
			fmt.Fprintf(w, "  line %d  %-60s %s: %s requests, %.3g sectors and %.3g wavefronts per request, %s bank conflicts\n",
				h.Line, h.Text, h.Class, count(h.Requests), h.SectorsPerRequest(), h.WavefrontsPerRequest(), count(h.BankConflicts()))
		}
	}
}

// CasesFor is Cases on device d, with the kernels only its architecture
// runs: the warpgroup GEMM (sm_90a, its rows per block and split as the
// planner picks them) beside GemmTC on compute capability 9.0.
func CasesFor(d Device, shapes [][2]int, ms []int) []Case {
	cs := Cases(shapes, ms, int(d.SMs.V))
	if d.SM != 90 {
		return cs
	}
	for _, nk := range shapes {
		for _, m := range ms {
			if m > kernels.MaxGemvM {
				wg, _ := kernels.NewGemmWGFor(m, nk[0], nk[1], int(d.SMs.V), 64, false)
				cs = append(cs, Case{wg, kernels.Shape{M: m, N: nk[0], K: nk[1], BlockSize: 64}})
			}
		}
	}
	return cs
}
