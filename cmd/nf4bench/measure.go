package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	xcpu "golang.org/x/sys/cpu"
	"gonum.org/v1/gonum/floats"

	"github.com/nf4go/nf4/cpu"
)

// machine names the CPU and the vector extensions the kernels care about.
// A virtual machine's model name may say only "AMD EPYC": the family and
// model numbers then tell the core (family 25 is Zen 3 and Zen 4, whose
// 512-bit FMAs issue at half the 256-bit rate; 26 is Zen 5).
func machine() string {
	name := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		info := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" {
				break // the first processor's entry only
			}
			if k, v, ok := strings.Cut(line, ":"); ok {
				info[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		if n := info["model name"]; n != "" {
			name = n
		}
		if f := info["cpu family"]; f != "" {
			name += fmt.Sprintf(", family %s model %s", f, info["model"])
		}
	}
	var ext []string
	for _, f := range []struct {
		name string
		on   bool
	}{{"avx2", xcpu.X86.HasAVX2}, {"fma", xcpu.X86.HasFMA}, {"avx512f", xcpu.X86.HasAVX512F}} {
		if f.on {
			ext = append(ext, f.name)
		}
	}
	if len(ext) == 0 {
		ext = []string{"no avx2/avx512"}
	}
	return name + " (" + strings.Join(ext, " ") + ")"
}

// cacheBytes is the last-level cache size (sysfs), or 256 MiB when unknown.
func cacheBytes() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/cpu0/cache/index3/size")
	if err != nil {
		return 256 << 20
	}
	s := strings.TrimSpace(string(b))
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		s, mult = strings.TrimSuffix(s, "K"), 1<<10
	case strings.HasSuffix(s, "M"):
		s, mult = strings.TrimSuffix(s, "M"), 1<<20
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 256 << 20
	}
	return n * mult
}

// setsFor returns how many copies of a matrix of the given size to rotate
// through so that the others evict it: three times the cache in all.
func setsFor(bytes int) int { return max(2, (3*cacheBytes()+bytes-1)/bytes) }

// stats summarises the wall times of one operation.
type stats struct {
	med, lo, hi float64
	n           int
}

// timed runs op reps times (after one untimed run) and summarises the
// wall times. Repetition i gets i as its argument, to pick a weight set.
func timed(reps int, op func(i int)) stats { return timedTogether(reps, timedOp{run: op})[0] }

// timedOp is one operation to time and how long to wait after it before
// timing anything else (OpenBLAS's threads keep spinning for a while after
// a call returns, which would slow whatever runs next).
type timedOp struct {
	run    func(i int)
	prep   func() // untimed, just before each timed call (nil: none)
	settle time.Duration
}

// timedTogether times several operations in turns, one repetition of each
// per round, so that a burst of load elsewhere on the machine hits all of
// them alike. It stops after reps rounds, or after three once the round
// budget is spent.
func timedTogether(reps int, ops ...timedOp) []stats {
	for _, op := range ops {
		op.run(0)
		time.Sleep(op.settle)
	}
	ts := make([][]float64, len(ops))
	deadline := time.Now().Add(time.Duration(len(ops)) * 3 * time.Second)
	for i := 1; i <= reps; i++ {
		for j, op := range ops {
			if op.prep != nil {
				op.prep()
			}
			t := time.Now()
			op.run(i)
			ts[j] = append(ts[j], float64(time.Since(t).Nanoseconds()))
			if op.settle > 0 {
				time.Sleep(op.settle)
				spin(20 * time.Millisecond)
			}
		}
		if i >= 3 && time.Now().After(deadline) {
			break
		}
	}
	out := make([]stats, len(ops))
	for j, t := range ts {
		slices.Sort(t)
		out[j] = stats{t[len(t)/2], t[0], t[len(t)-1], len(t)}
	}
	return out
}

// spin keeps every core busy for d, so that an idle pause does not leave
// the next timed call to run on cores still clocking up.
func spin(d time.Duration) {
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for range cpu.Threads() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
			}
		}()
	}
	wg.Wait()
}

// memoryBandwidth reads a buffer several times the cache, all cores at once.
func memoryBandwidth(reps int) result {
	n := max(4*cacheBytes(), 256<<20) / 8
	buf := make([]float64, n)
	for i := range buf {
		buf[i] = 1
	}
	workers := cpu.Threads()
	st := timed(reps, func(int) {
		var wg sync.WaitGroup
		chunk := (n + workers - 1) / workers
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				part := buf[w*chunk : min(n, (w+1)*chunk)]
				if floats.Sum(part) < 0 {
					panic("unreachable")
				}
			}()
		}
		wg.Wait()
	})
	return result{Op: "membw", Impl: "read", NsPerOp: st.med, Spread: [2]float64{st.lo, st.hi}, Reps: st.n,
		GBps: float64(8*n) / st.med, Note: strconv.Itoa(8*n>>20) + " MiB, all cores"}
}

// writeBandwidth fills a buffer several times the cache with
// cpu.StreamFill (the stores Dequantize writes a large output with), all
// cores at once. The value changes every repetition and is never zero,
// which some machines write several times faster.
func writeBandwidth(reps int) result {
	n := max(4*cacheBytes(), 256<<20) / 4
	buf := make([]float32, n)
	streamFillAll(buf, 1) // touch every page before timing
	st := timed(reps, func(rep int) { streamFillAll(buf, 1.5+float32(rep)) })
	return result{Op: "membw", Impl: "write", NsPerOp: st.med, Spread: [2]float64{st.lo, st.hi}, Reps: st.n,
		GBps: float64(4*n) / st.med, Note: strconv.Itoa(4*n>>20) + " MiB, all cores, streaming stores of a nonzero value"}
}

// streamFillAll sets buf to v with cpu.StreamFill, split across all cores.
func streamFillAll(buf []float32, v float32) {
	workers := cpu.Threads()
	chunk := (len(buf) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cpu.StreamFill(buf[min(len(buf), w*chunk):min(len(buf), (w+1)*chunk)], v)
		}()
	}
	wg.Wait()
}

// arithmeticPeak measures the vector units' peak with the default kernel
// set, all cores at once: the float32 FMA rate, then (where the CPU has
// AVX512_BF16) the VDPBF16PS rate. Each figure is the best of up to five
// measurements of 200 ms, as other work on the machine only lowers it
// (once in a dozen runs on a shared 2-vCPU host the float32 figure came
// out at one core's rate). It returns the peak and its rows.
func arithmeticPeak(reps int) (cpu.Peak, []result) {
	var best cpu.Peak
	for range min(reps, 5) {
		p := cpu.MeasurePeak(200 * time.Millisecond)
		best.Kernels, best.Threads = p.Kernels, p.Threads
		best.Float32, best.BF16 = max(best.Float32, p.Float32), max(best.BF16, p.BF16)
	}
	return best, peakRows(best, fmt.Sprintf("kernels %s, %d threads", best.Kernels, best.Threads))
}

// peakRows are the rows of a peak: float32 FMA, and bf16 where measured.
func peakRows(pk cpu.Peak, note string) []result {
	out := []result{{Op: "peak", Impl: "fma-f32", GFLOPs: pk.Float32, Note: note}}
	if pk.BF16 > 0 {
		out = append(out, result{Op: "peak", Impl: "dot-bf16", GFLOPs: pk.BF16, Note: note})
	}
	return out
}

// higherPeak measures the peak once more before the products of shape s
// and returns the larger of it and pk, with its rows when it is larger.
func higherPeak(pk cpu.Peak, s shape) (cpu.Peak, []result) {
	p := cpu.MeasurePeak(200 * time.Millisecond)
	if p.Float32 <= pk.Float32 && p.BF16 <= pk.BF16 {
		return pk, nil
	}
	pk.Float32, pk.BF16 = max(pk.Float32, p.Float32), max(pk.BF16, p.BF16)
	return pk, peakRows(pk, fmt.Sprintf("kernels %s, %d threads, re-measured before %v", pk.Kernels, pk.Threads, s))
}

// randomMatrix returns an N(0,1) float32 matrix.
func randomMatrix(rows, cols int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, seed+1))
	m := make([]float32, rows*cols)
	for i := range m {
		m[i] = float32(r.NormFloat64())
	}
	return m
}

// codecBench times quantizing and dequantizing a 4096² matrix. The
// dequantizers are timed in turn with streamFillAll writing the same
// output, their ceiling on this machine at that moment: each dequantize
// row is held to it (a shared host's memory bandwidth can double or halve
// from one second to the next).
func codecBench(reps int, sets []string) []result {
	const n = 4096
	src := randomMatrix(n, n, 1)
	codes, absmax := make([]byte, n*n/2), make([]float32, n*n/cpu.DefaultBlockSize)
	dst := make([]float32, n*n)
	w := &cpu.Weights{Rows: n, Cols: n, BlockSize: cpu.DefaultBlockSize, Codes: codes, Scales: cpu.Scales{Absmax: absmax}}
	var qs, ds []timedOp
	for _, set := range sets {
		qs = append(qs, timedOp{run: withKernels(set, func(int) {
			if err := cpu.Quantize(codes, absmax, src, n, n, cpu.DefaultBlockSize); err != nil {
				panic(err)
			}
		})})
		ds = append(ds, timedOp{run: withKernels(set, func(int) {
			if err := cpu.Dequantize(dst, w); err != nil {
				panic(err)
			}
		})})
	}
	ds = append(ds, timedOp{run: func(rep int) { streamFillAll(dst, 1.5+float32(rep)) }})
	q, d := timedTogether(reps, qs...), timedTogether(reps, ds...)
	fill := d[len(sets)]
	var out []result
	for j, set := range sets {
		out = append(out, result{Op: "quantize", N: n, K: n, Impl: "nf4-" + set, NsPerOp: q[j].med, Spread: [2]float64{q[j].lo, q[j].hi}, Reps: q[j].n,
			GBps: 4 * n * n / q[j].med, Note: "GB/s of float32 input"})
	}
	fillGBps := 4 * n * n / fill.med
	for j, set := range sets {
		r := result{Op: "dequant", N: n, K: n, Impl: "nf4-" + set, NsPerOp: d[j].med, Spread: [2]float64{d[j].lo, d[j].hi}, Reps: d[j].n,
			GBps: 4 * n * n / d[j].med, Note: "GB/s of float32 output; memory bandwidth: stream-fill's, timed in turn"}
		r.FracPeak = r.GBps / fillGBps
		out = append(out, r)
	}
	out = append(out, result{Op: "dequant", N: n, K: n, Impl: "stream-fill", NsPerOp: fill.med, Spread: [2]float64{fill.lo, fill.hi}, Reps: fill.n,
		GBps: fillGBps, Note: "the same output written by StreamFill: the ceiling"})
	return out
}

func sortedKeys(m map[string]float64) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}
