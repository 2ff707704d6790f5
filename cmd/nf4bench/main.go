// Command nf4bench times the NF4 CPU kernels beside float32 BLAS on the
// same logical matrices, in one run, so the ratios share the machine's
// state.
//
//	go run ./cmd/nf4bench [-json] [-reps N] [-quick]
//	CGO_LDFLAGS=-lopenblas go run -tags openblas ./cmd/nf4bench
//
// Weight sets rotate so that no matrix is still in cache when it is used
// again; each figure is the median over the repetitions.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/nf4go/nf4/cpu"
)

func main() {
	asJSON := flag.Bool("json", false, "print one JSON object per line")
	reps := flag.Int("reps", 15, "most repetitions per measurement")
	quick := flag.Bool("quick", false, "4096² only, fewer repetitions")
	flag.Parse()
	if err := run(os.Stdout, *asJSON, *reps, *quick); err != nil {
		fmt.Fprintln(os.Stderr, "nf4bench:", err)
		os.Exit(1)
	}
}

// result is one measured configuration; it is also the JSON line.
type result struct {
	Op       string             `json:"op"`
	N        int                `json:"n,omitempty"`
	K        int                `json:"k,omitempty"`
	M        int                `json:"m,omitempty"`
	Impl     string             `json:"impl"`
	NsPerOp  float64            `json:"ns_per_op"`
	Spread   [2]float64         `json:"ns_min_max"`
	Reps     int                `json:"reps"`
	GBps     float64            `json:"gb_per_s,omitempty"`
	GFLOPs   float64            `json:"gflop_per_s,omitempty"`
	Speedup  map[string]float64 `json:"speedup_vs,omitempty"`
	FracPeak float64            `json:"fraction_of_mem_bw,omitempty"`
	Note     string             `json:"note,omitempty"`
}

func run(w io.Writer, asJSON bool, reps int, quick bool) error {
	if reps < 1 {
		return fmt.Errorf("-reps %d: want at least 1", reps)
	}
	sizes := []int{4096, 8192}
	if quick {
		sizes, reps = sizes[:1], min(reps, 7)
	}
	emit := func(r result) {
		if asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintln(w, string(b))
			return
		}
		printRow(w, r)
	}
	if !asJSON {
		fmt.Fprintf(w, "nf4bench: %s, %s/%s, %d threads, kernels %s (available %s), float32 baselines: %s\n",
			machine(), runtime.GOOS, runtime.GOARCH, cpu.Threads(), cpu.Kernels(), strings.Join(cpu.KernelSets(), ", "), baselineNames())
		if note := blasNote(); note != "" {
			fmt.Fprintln(w, note)
		}
		fmt.Fprintf(w, "cache %d MiB treated as the last level; weight sets rotate past it\n\n", cacheBytes()>>20)
	}
	bw := memoryBandwidth(reps)
	emit(bw)
	for _, r := range codecBench(reps) {
		emit(r)
	}
	for _, n := range sizes {
		res, err := linearBench(n, n, reps, bw.GBps)
		if err != nil {
			return err
		}
		for _, r := range res {
			emit(r)
		}
	}
	return nil
}

func printRow(w io.Writer, r result) {
	shape := ""
	switch {
	case r.M > 0:
		shape = fmt.Sprintf("N=K=%d M=%d", r.N, r.M)
	case r.N > 0:
		shape = fmt.Sprintf("%d×%d", r.N, r.K)
	}
	fmt.Fprintf(w, "%-9s %-18s %-14s %11.3f ms  (min %.3f, max %.3f, %d reps)", r.Op, shape, r.Impl, r.NsPerOp/1e6, r.Spread[0]/1e6, r.Spread[1]/1e6, r.Reps)
	if r.GBps > 0 {
		fmt.Fprintf(w, "  %7.2f GB/s", r.GBps)
	}
	if r.GFLOPs > 0 {
		fmt.Fprintf(w, "  %7.1f GFLOP/s", r.GFLOPs)
	}
	if r.FracPeak > 0 {
		fmt.Fprintf(w, "  %3.0f%% of memory bandwidth", 100*r.FracPeak)
	}
	for _, b := range sortedKeys(r.Speedup) {
		fmt.Fprintf(w, "  %.2f× vs %s", r.Speedup[b], b)
	}
	if r.Note != "" {
		fmt.Fprintf(w, "  (%s)", r.Note)
	}
	fmt.Fprintln(w)
}
