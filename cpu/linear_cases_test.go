package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// linearShape is an N×K weight matrix in blocks of B codes and the batch
// sizes M to multiply it with.
type linearShape struct {
	n, k, b int
	ms      []int
}

// linearCase is one product of a sweep over shapes: random weights w0 and
// the same weights w, off elements past alignment, for a batch of m rows.
type linearCase struct {
	q          QuantType
	double     bool
	n, k, b, m int
	off        int
	w0, w      *Weights
}

func (c linearCase) String() string {
	return fmt.Sprintf("%v N=%d K=%d B=%d double=%v M=%d", c.q, c.n, c.k, c.b, c.double, c.m)
}

// eachLinearCase calls f for every shape, quant type, scale format (plain
// and double-quantized) and batch size; the weights are drawn from r once
// per shape, type and format, and a batch of m rows runs m%3 elements off
// alignment, so that unaligned data meets every kernel.
func eachLinearCase(t testing.TB, r *rand.Rand, shapes []linearShape, f func(c linearCase)) {
	for _, sh := range shapes {
		for _, q := range QuantTypes() {
			for _, double := range []bool{false, true} {
				w0, _ := randomWeightsOf(t, q, r, sh.n, sh.k, sh.b, double)
				for _, m := range sh.ms {
					off := m % 3
					f(linearCase{q: q, double: double, n: sh.n, k: sh.k, b: sh.b, m: m, off: off, w0: w0, w: offsetWeights(w0, off)})
				}
			}
		}
	}
}

// randomInput returns n normally distributed float32 values starting off
// elements into a fresh allocation, and the same values as float64s for
// the reference.
func randomInput(r *rand.Rand, n, off int) ([]float32, []float64) {
	x := offsetCopy(make([]float32, n), off)
	x64 := make([]float64, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
		x64[i] = float64(x[i])
	}
	return x, x64
}
