package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkRoute times the two ways a batch just above GEMVMaxRows can
// go, side by side: the GEMM micro-kernels over decoded panels, and the
// decode-dot kernels a slice of at most GEMVMaxRows rows at a time. The
// crossover sets gemvSlicesUpTo.
func BenchmarkRoute(b *testing.B) {
	w, _, _ := benchSetup(b)
	k := active
	if k == nil {
		b.Skip("no vector kernel set on this CPU")
	}
	r := rand.New(rand.NewPCG(4, 4))
	for _, m := range []int{9, 12, 16, 24, 32, 48, 64} {
		x := make([]float32, m*benchK)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		out := make([]float32, m*benchN)
		flops := float64(2 * m * benchN * benchK)
		for _, path := range []string{"gemm", "gemv-slices"} {
			b.Run(fmt.Sprintf("%s/M=%d/%s", k.name, m, path), withCPUTime(func(b *testing.B) {
				for b.Loop() {
					if path == "gemm" {
						gemmVec(k, &k.gemm, out, x, m, w)
					} else {
						gemvSlices(k, out, x, m, w)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			}))
		}
	}
}
