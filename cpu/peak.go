package cpu

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Peak is the arithmetic rate of the vector units, measured with a loop
// of independent multiply-adds on every thread at once: the ceiling that
// a product bound by arithmetic (not by reading W) is held against.
type Peak struct {
	// Kernels is the kernel set whose loops ran.
	Kernels string
	// Threads is how many ran at once (Threads()).
	Threads int
	// Float32 is GFLOP/s of float32 FMAs (two flops a lane), the exact
	// mode's arithmetic; 0 for a set without vector loops (purego).
	Float32 float64
	// BF16 is GFLOP/s of VDPBF16PS (four flops a lane: two products and
	// their sum into float32), the bf16 mode's; 0 where the CPU has no
	// AVX512_BF16.
	BF16 float64
}

func (p Peak) String() string {
	if p.Float32 == 0 {
		return fmt.Sprintf("peak: no vector loops in kernel set %s", p.Kernels)
	}
	s := fmt.Sprintf("peak (%s, %d threads): float32 FMA %.1f GFLOP/s", p.Kernels, p.Threads, p.Float32)
	if p.BF16 > 0 {
		s += fmt.Sprintf(", bf16 VDPBF16PS %.1f GFLOP/s", p.BF16)
	}
	return s
}

// The peak loops' independent chains, as asmgen writes them (the AVX2
// set has 16 registers, the AVX-512 one 32).
const peakChainsAVX2, peakChainsAVX512 = 12, 24

// peakLoops are a kernel set's peak loops: fma runs n rounds of chains
// independent FMAs of lanes float32 lanes, bf16 (nil without AVX512_BF16)
// n rounds of bf16Chains VDPBF16PS on 16 lanes; both write their chains'
// sum to out.
type peakLoops struct {
	fma           func(n int, a, out *float32)
	lanes, chains int
	bf16          func(n int, a *uint32, out *float32)
	bf16Chains    int
}

// MeasurePeak times the kernel set's peak loops on Threads() goroutines
// at once, for about d each (at least 10 ms), and returns the best rate
// each sustained over a tenth of d. It is a measurement of this moment:
// other work on the machine lowers it.
func MeasurePeak(d time.Duration) Peak {
	p := Peak{Kernels: Kernels(), Threads: Threads()}
	if active == nil || active.peak == nil {
		return p
	}
	l := active.peak
	d = max(d, 10*time.Millisecond)
	var a [16]float32
	var b [16]uint32
	p.Float32 = rate(d, func(n int) {
		var out [16]float32
		l.fma(n, &a[0], &out[0])
	}, float64(2*l.lanes*l.chains))
	if l.bf16 != nil {
		p.BF16 = rate(d, func(n int) {
			var out [16]float32
			l.bf16(n, &b[0], &out[0])
		}, float64(4*16*l.bf16Chains))
	}
	return p
}

// rate runs loop on every thread for about d, in slices of rounds, and
// returns GFLOP/s at flops a round: the best of the windows of d/10 it
// samples, as a thread that waits for its core (or one whose core is
// still waking) would otherwise lower the figure.
func rate(d time.Duration, loop func(rounds int), flops float64) float64 {
	const slice = 1 << 12 // rounds a thread runs between counts: ~25 µs
	loop(slice)           // warm the units up before timing
	var rounds atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range Threads() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				loop(slice)
				rounds.Add(slice)
			}
		}()
	}
	best := 0.0
	last, lastN := time.Now(), rounds.Load()
	for end := last.Add(d); time.Now().Before(end); {
		time.Sleep(d / 10)
		now, n := time.Now(), rounds.Load()
		best = max(best, float64(n-lastN)*flops/float64(now.Sub(last).Nanoseconds()))
		last, lastN = now, n
	}
	stop.Store(true)
	wg.Wait()
	return best
}

// peakFMAGo is the peak loop's arithmetic in plain Go: n rounds of
// chains float32 multiply-adds acc += a·a per lane (fused, as VFMADD231PS;
// the tests' values are exact either way), then the chains summed in
// order.
func peakFMAGo(n int, a []float32, chains int) []float32 {
	out := make([]float32, len(a))
	for i, v := range a {
		var acc float32
		for range n {
			acc = fma32(v, v, acc)
		}
		for range chains {
			out[i] += acc
		}
	}
	return out
}

// peakBF16Go is the VDPBF16PS peak loop's arithmetic in plain Go: each
// lane's pair of bf16 values (the low half first) dotted with itself,
// the second product added first as VDPBF16PS does, n times into each
// chain.
func peakBF16Go(n int, a []uint32, chains int) []float32 {
	out := make([]float32, len(a))
	for i, v := range a {
		lo, hi := fromBF16(uint16(v)), fromBF16(uint16(v>>16))
		var acc float32
		for range n {
			acc = float32(acc + hi*hi)
			acc = float32(acc + lo*lo)
		}
		for range chains {
			out[i] += acc
		}
	}
	return out
}
