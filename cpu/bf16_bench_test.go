package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkBF16 times Linear's exact float32 path and LinearBF16 side by
// side on 4096² weights, for the batches the bf16 kernels cover.
func BenchmarkBF16(b *testing.B) {
	w, _, _ := benchSetup(b)
	if !BF16Kernels() {
		b.Logf("no bf16 kernels with the %s set: LinearBF16 is Linear here", Kernels())
	}
	r := rand.New(rand.NewPCG(5, 5))
	for _, m := range []int{1, 2, 4, 8, 16} {
		x := make([]float32, m*benchK)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		out := make([]float32, m*benchN)
		for _, mode := range []string{"float32", "bf16"} {
			linear := Linear
			if mode == "bf16" {
				linear = LinearBF16
			}
			b.Run(fmt.Sprintf("M=%d/%s-%s", m, Kernels(), mode), withCPUTime(func(b *testing.B) {
				for b.Loop() {
					if err := linear(out, x, m, w); err != nil {
						b.Fatal(err)
					}
				}
			}))
		}
	}
}
