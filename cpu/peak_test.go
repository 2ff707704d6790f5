package cpu

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// checkPeakLoops runs set k's peak loops on random lanes, multiples of
// 1/64 so that every sum is exact, for round counts from none up, and
// holds them to the pure-Go twins: a loop that skipped or repeated FMAs
// would sum to something else.
func checkPeakLoops(t *testing.T, k *vecKernels) {
	l := k.peak
	if l == nil {
		t.Fatalf("%s: no peak loops", k.name)
	}
	r := rand.New(rand.NewPCG(7, 8))
	sixtyFourths := func() float32 { return float32(r.IntN(257)-128) / 64 }
	for _, n := range []int{0, 1, 2, 5, 33} {
		a := make([]float32, l.lanes)
		for i := range a {
			a[i] = sixtyFourths()
		}
		out := make([]float32, l.lanes)
		for i := range out {
			out[i] = float32(r.NormFloat64()) // poison
		}
		l.fma(n, &a[0], &out[0])
		if want := peakFMAGo(n, a, l.chains); fmt.Sprint(out) != fmt.Sprint(want) {
			t.Errorf("%s fma loop, %d rounds: %v, want %v", k.name, n, out, want)
		}
		if l.bf16 == nil {
			continue
		}
		b := make([]uint32, 16)
		for i := range b {
			b[i] = uint32(toBF16(sixtyFourths())) | uint32(toBF16(sixtyFourths()))<<16
		}
		out = make([]float32, 16)
		l.bf16(n, &b[0], &out[0])
		if want := peakBF16Go(n, b, l.bf16Chains); fmt.Sprint(out) != fmt.Sprint(want) {
			t.Errorf("%s bf16 loop, %d rounds: %v, want %v", k.name, n, out, want)
		}
	}
}

// TestPeakLoops runs the native peak loops of every set this CPU has
// against their twins.
func TestPeakLoops(t *testing.T) {
	for _, k := range vecVariants() {
		t.Run(k.name, func(t *testing.T) { checkPeakLoops(t, k) })
	}
}

func TestMeasurePeak(t *testing.T) {
	saved := active
	defer func() { active = saved }()
	for _, name := range KernelSets() {
		if err := UseKernels(name); err != nil {
			t.Fatal(err)
		}
		p := MeasurePeak(2 * time.Millisecond)
		if p.Kernels != name || p.Threads != Threads() {
			t.Errorf("%s: %+v", name, p)
		}
		vector := active != nil
		if vector != (p.Float32 > 0) {
			t.Errorf("%s: float32 peak %g GFLOP/s", name, p.Float32)
		}
		bf16 := vector && active.peak.bf16 != nil
		if bf16 != (p.BF16 > 0) {
			t.Errorf("%s: bf16 peak %g GFLOP/s", name, p.BF16)
		}
		if s := p.String(); !strings.Contains(s, name) {
			t.Errorf("%s: String() = %q", name, s)
		}
		t.Log(p)
	}
}

// The vector units' peak, beside which a product's GFLOP/s is a fraction
// (cmd/nf4bench prints both).
func ExampleMeasurePeak() {
	p := MeasurePeak(10 * time.Millisecond)
	fmt.Println(p.Float32 > 0 || p.Kernels == "purego")
	// Output: true
}
