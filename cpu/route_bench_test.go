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

// BenchmarkRouteBF16 does the same for LinearBF16 without AMX: the
// VDPBF16PS tile path against the bf16 decode-dot kernels in slices, with
// the exact path beside them. The crossover sets tilesFrom.
func BenchmarkRouteBF16(b *testing.B) {
	w, _, _ := benchSetup(b)
	k := active
	if k == nil || k.gemvBF16 == nil || k.tilesBF16 == nil {
		b.Skip("no bf16 tile path with this kernel set on this CPU")
	}
	r := rand.New(rand.NewPCG(4, 5))
	for _, m := range []int{9, 12, 16, 24, 32, 48, 64, 128} {
		x := make([]float32, m*benchK)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		out := make([]float32, m*benchN)
		flops := float64(2 * m * benchN * benchK)
		for _, path := range []string{"tiles", "bf16-slices", "exact"} {
			b.Run(fmt.Sprintf("%s/M=%d/%s", k.name, m, path), withCPUTime(func(b *testing.B) {
				for b.Loop() {
					switch path {
					case "tiles":
						linearTiled(k.tilesBF16, out, x, m, w)
					case "bf16-slices":
						inSlices(out, x, m, w, func(out, x []float32, m int) { gemvBF16(k, out, x, m, w) })
					default:
						if err := Linear(out, x, m, w); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			}))
		}
	}
}
