package kernels_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptxsim"
)

// gemvShapes are awkward for the gemv's tiling: N not a multiple of any
// block's rows, K = one NF4 block, K over one 1024-weight step and not a
// multiple of it, and K giving the block's first warp one trip more than
// the others.
var gemvShapes = []struct{ N, K, B int }{
	{2, 64, 64}, // row 0 is the all-zero block newProblem makes
	{9, 1344, 64},
	{13, 4160, 64},
	{35, 1088, 64},
	{5, 32, 32},
	{3, 2112, 32},
	{7, 4096, 4096},
}

// TestSimGemv runs every batch size (1…8) on the shapes above, with plain and
// double-quantized scales and both code tables, on random data and
// NaN-poisoned outputs, against a float64 reference.
func TestSimGemv(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for m := 1; m <= kernels.MaxGemvM; m++ {
		for _, c := range gemvShapes {
			for _, dq := range []bool{false, true} {
				for _, q := range []kernels.QuantType{kernels.NF4, kernels.FP4} {
					name := fmt.Sprintf("M%d_N%d_K%d_B%d_dq%v_%v", m, c.N, c.K, c.B, dq, q)
					t.Run(name, func(t *testing.T) {
						p := newProblem(t, r, m, c.N, c.K, c.B, dq)
						if q != kernels.NF4 {
							// The same codes read through the other table.
							p.wq = deqTable(q.Values(), p.codes, p.absmax, c.N*c.K, c.B)
						}
						g, err := kernels.NewGemv(m, c.B, dq)
						if err != nil {
							t.Fatal(err)
						}
						k, err := kernels.ForQuant(g, q)
						if err != nil {
							t.Fatal(err)
						}
						y := p.poisoned(t, m*c.N)
						launch(t, k, p, p.args([]ptxsim.Ptr{p.px, p.pc}, uint64(y), uint64(c.N), uint64(c.K)))
						// NaN fails: a poisoned output left unwritten.
						if e := relErr(p.read(t, y, m*c.N), forwardRef(p)); !(e <= 1e-5) {
							t.Errorf("normwise relative error %g", e)
						}
					})
				}
			}
		}
	}
}

// TestSimGemvRows runs the fewer rows per block GemvRowsFor may choose, for
// M = 1, 2 and 7, on N not a multiple of them, with both code tables.
func TestSimGemvRows(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	for _, m := range []int{1, 2, 7} {
		least, most := kernels.GemvRowChoices(m)
		for rows := least; rows < most; rows++ {
			for _, c := range []struct{ N, K, B int }{{2*rows + 3, 1344, 64}, {rows - 1, 64, 64}, {rows + 1, 2112, 32}} {
				for _, dq := range []bool{false, true} {
					// FP4 with double-quantized scales, NF4 with plain ones.
					q := kernels.NF4
					if dq {
						q = kernels.FP4
					}
					t.Run(fmt.Sprintf("M%d_R%d_N%d_K%d_B%d_dq%v_%v", m, rows, c.N, c.K, c.B, dq, q), func(t *testing.T) {
						p := newProblem(t, r, m, c.N, c.K, c.B, dq)
						if q != kernels.NF4 {
							p.wq = deqTable(q.Values(), p.codes, p.absmax, c.N*c.K, c.B)
						}
						g := &kernels.Gemv{M: m, BlockSize: c.B, DoubleQuant: dq, Quant: q, Rows: rows}
						y := p.poisoned(t, m*c.N)
						launch(t, g, p, p.args([]ptxsim.Ptr{p.px, p.pc}, uint64(y), uint64(c.N), uint64(c.K)))
						if e := relErr(p.read(t, y, m*c.N), forwardRef(p)); !(e <= 1e-5) {
							t.Errorf("normwise relative error %g", e)
						}
					})
				}
			}
		}
	}
}

func deqTable(table [16]float32, codes []byte, absmax []float32, n, b int) []float32 {
	out := make([]float32, n)
	for i := range out {
		c := codes[i/2] >> (4 * (i % 2)) & 15
		out[i] = table[c] * absmax[i/b]
	}
	return out
}
