// Command nf4bench times the NF4 CPU kernels beside float32 BLAS on the
// same logical matrices, in one run, so the ratios share the machine's
// state.
//
//	go run ./cmd/nf4bench [-json] [-reps N] [-quick] [-kernels avx512,avx2,purego]
//	    [-shape NxK] [-batches 1,8,64]
//	CGO_LDFLAGS=-lopenblas go run -tags openblas ./cmd/nf4bench
//
// The products are out[M, N] = x[M, K]·Wᵀ at N = K = 4096 and 8192 (4096
// only with -quick), or at the one N×K of -shape, for each batch M of
// -batches.
//
// Every kernel set named by -kernels (default: all this CPU runs) is timed
// side by side; the first is the one the speedups are of. Pure Go is timed
// at M = 1 and in the codecs unless -kernels leaves it out, and at M > 1
// only when -kernels names it.
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
	"slices"
	"strings"

	"github.com/nf4go/nf4/cpu"
)

func main() {
	asJSON := flag.Bool("json", false, "print one JSON object per line")
	reps := flag.Int("reps", 15, "most repetitions per measurement")
	quick := flag.Bool("quick", false, "4096² only, fewer repetitions")
	kernels := flag.String("kernels", "", "comma-separated kernel sets to time side by side, first the one compared (default: all of "+strings.Join(cpu.KernelSets(), ",")+")")
	shape := flag.String("shape", "", "the products' N×K, as NxK (default: N = K = 4096 and 8192)")
	batches := flag.String("batches", "1,8,64", "comma-separated batch sizes M")
	flag.Parse()
	sets, err := kernelSets(*kernels)
	var p plan
	if err == nil {
		p, err = newPlan(*quick, *shape, *batches)
	}
	if err == nil {
		err = run(os.Stdout, *asJSON, *reps, p, sets)
	}
	if err != nil {
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
	FracFMA  float64            `json:"fraction_of_arith_peak,omitempty"`
	Note     string             `json:"note,omitempty"`
}

// kernelSets parses -kernels: the sets to time, each one this CPU runs.
func kernelSets(list string) (kernelChoice, error) {
	if list == "" {
		return kernelChoice{names: cpu.KernelSets()}, nil
	}
	var c kernelChoice
	for _, name := range strings.Split(list, ",") {
		if !slices.Contains(cpu.KernelSets(), name) {
			return c, fmt.Errorf("-kernels: set %q not available here (have %s)", name, strings.Join(cpu.KernelSets(), ", "))
		}
		if slices.Contains(c.names, name) {
			return c, fmt.Errorf("-kernels: set %q named twice", name)
		}
		c.names = append(c.names, name)
	}
	c.explicit = true
	return c, nil
}

// kernelChoice is the kernel sets to time, first the one compared.
type kernelChoice struct {
	names    []string
	explicit bool // named by -kernels: pure Go then runs at every M
}

// at returns the sets to time for batch m: pure Go is too slow to time at
// every size unless asked for.
func (c kernelChoice) at(m int) []string {
	if c.explicit || m == 1 {
		return c.names
	}
	var s []string
	for _, n := range c.names {
		if n != "purego" || len(c.names) == 1 {
			s = append(s, n)
		}
	}
	return s
}

// bf16Mode says which kernels cpu.LinearBF16 runs with the default set.
func bf16Mode() string {
	var k []string
	if cpu.BF16Kernels() {
		k = append(k, "AVX-512 BF16 decode-dot")
	}
	if cpu.AMXKernels() {
		k = append(k, "AMX-BF16 tiles from 16 rows")
	} else {
		k = append(k, "no AMX-BF16 tiles")
	}
	return strings.Join(k, ", ")
}

// withKernels returns op run under the named kernel set, the set in use
// put back afterwards.
func withKernels(name string, op func(i int)) func(i int) {
	return func(i int) {
		saved := cpu.Kernels()
		if err := cpu.UseKernels(name); err != nil {
			panic(err)
		}
		defer func() {
			if err := cpu.UseKernels(saved); err != nil {
				panic(err)
			}
		}()
		op(i)
	}
}

func run(w io.Writer, asJSON bool, reps int, p plan, sets kernelChoice) error {
	if reps < 1 {
		return fmt.Errorf("-reps %d: want at least 1", reps)
	}
	if p.quick {
		reps = min(reps, 7)
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
		fmt.Fprintf(w, "nf4bench: %s, %s/%s, %d threads, kernels %s by default (available %s; timed %s; bf16 mode: %s), float32 baselines: %s\n",
			machine(), runtime.GOOS, runtime.GOARCH, cpu.Threads(), cpu.Kernels(), strings.Join(cpu.KernelSets(), ", "), strings.Join(sets.names, ", "), bf16Mode(), baselineNames())
		if note := blasNote(); note != "" {
			fmt.Fprintln(w, note)
		}
		fmt.Fprintf(w, "cache %d MiB treated as the last level; weight sets rotate past it\n\n", cacheBytes()>>20)
	}
	bw := memoryBandwidth(reps)
	emit(bw)
	emit(writeBandwidth(reps))
	pk, rows := arithmeticPeak(reps)
	for _, r := range rows {
		emit(r)
	}
	for _, r := range codecBench(reps, sets.at(1)) {
		emit(r)
	}
	for _, s := range p.shapes {
		// A shared host can starve the first measurements; the peak is a
		// ceiling, so each size's products are held to the best so far.
		var more []result
		pk, more = higherPeak(pk, s)
		for _, r := range more {
			emit(r)
		}
		res, err := linearBench(s.n, s.k, p.batches, reps, bw.GBps, pk, sets)
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
	dims := ""
	switch {
	case r.M > 0:
		dims = fmt.Sprintf("%v M=%d", shape{r.N, r.K}, r.M)
	case r.N > 0:
		dims = fmt.Sprintf("%d×%d", r.N, r.K)
	}
	fmt.Fprintf(w, "%-9s %-20s %-14s", r.Op, dims, r.Impl)
	if r.NsPerOp > 0 {
		fmt.Fprintf(w, " %11.3f ms  (min %.3f, max %.3f, %d reps)", r.NsPerOp/1e6, r.Spread[0]/1e6, r.Spread[1]/1e6, r.Reps)
	}
	if r.GBps > 0 {
		fmt.Fprintf(w, "  %7.2f GB/s", r.GBps)
	}
	if r.GFLOPs > 0 {
		fmt.Fprintf(w, "  %7.1f GFLOP/s", r.GFLOPs)
	}
	if r.FracPeak > 0 {
		fmt.Fprintf(w, "  %3.0f%% of memory bandwidth", 100*r.FracPeak)
	}
	if r.FracFMA > 0 {
		fmt.Fprintf(w, "  %3.0f%% of arithmetic peak", 100*r.FracFMA)
	}
	for _, b := range sortedKeys(r.Speedup) {
		fmt.Fprintf(w, "  %.2f× vs %s", r.Speedup[b], b)
	}
	if r.Note != "" {
		fmt.Fprintf(w, "  (%s)", r.Note)
	}
	fmt.Fprintln(w)
}
