package nf4_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

func randomMatrix(r *rand.Rand, rows, cols int) []float32 {
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// matmulT64 returns x[M,K]·wᵀ for w[N,K], in float64.
func matmulT64(x []float64, w []float32, m, n, k int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for l := range k {
				s += x[i*k+l] * float64(w[j*k+l])
			}
			out[i*n+j] = s
		}
	}
	return out
}

func normwise(t testing.TB, got interface{}, want []float64) float64 {
	t.Helper()
	var num, den float64
	for i, w := range want {
		var g float64
		switch d := got.(type) {
		case []float32:
			g = float64(d[i])
		case []float64:
			g = d[i]
		default:
			t.Fatalf("unexpected data %T", got)
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	return math.Sqrt(num / den)
}

func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func dataOf(t testing.TB, d tensor.Tensor) []float32 {
	t.Helper()
	v, ok := d.Data().([]float32)
	if !ok {
		t.Fatalf("data is %T, want []float32", d.Data())
	}
	return v
}
