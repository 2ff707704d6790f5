package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkBF16 times Linear's exact float32 path and LinearBF16 side by
// side on 4096² weights, for the batches the bf16 kernels cover, and at
// 64 rows, where a CPU with AMX-BF16 runs the tile kernel (the name then
// says bf16-amx), in GFLOP/s too.
func BenchmarkBF16(b *testing.B) {
	w, _, _ := benchSetup(b)
	if !BF16Kernels() {
		b.Logf("no bf16 kernels with the %s set: LinearBF16 is Linear here", Kernels())
	}
	r := rand.New(rand.NewPCG(5, 5))
	if !AMXKernels() {
		b.Logf("no AMX tiles here: LinearBF16 at 16 rows or more runs the AVX-512 BF16 or exact path")
	}
	for _, m := range []int{1, 2, 4, 8, 16, 64} {
		x := make([]float32, m*benchK)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		out := make([]float32, m*benchN)
		for _, mode := range []string{"float32", "bf16"} {
			linear := Linear
			if mode == "bf16" {
				linear = LinearBF16
				if m >= amxMinRows && AMXKernels() {
					mode = "bf16-amx"
				}
			}
			b.Run(fmt.Sprintf("M=%d/%s-%s", m, Kernels(), mode), withCPUTime(func(b *testing.B) {
				for b.Loop() {
					if err := linear(out, x, m, w); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(2*float64(m)*benchN*benchK*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			}))
		}
	}
}
