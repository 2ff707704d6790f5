package kernels_test

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptxsim"
)

// splitWGShapes are awkward for the split warpgroup GEMM: splits that do
// not divide the steps (the last range shorter) or exceed them, K = one
// block (no split possible), K an odd multiple of 32 (a padded last step),
// M and N not multiples of the tile, two row tiles, both rows per block.
var splitWGShapes = []struct{ M, N, K, B, Rows, Splits int }{
	{17, 70, 320, 64, 128, 3},   // 5 steps in ranges of 2, 2, 1
	{1, 1, 64, 64, 128, 4},      // K = one block: one range
	{70, 200, 448, 64, 256, 16}, // 7 steps, 7 ranges of one
	{130, 129, 352, 32, 128, 2}, // K an odd multiple of 32, two row tiles
}

// TestSimGemmWGSplit runs the split-K warpgroup GEMM in the simulator on
// the shapes above, plain and double-quantized scales, NF4 and FP4, on
// NaN-poisoned outputs, against a float64 reference at bf16's precision,
// twice on the same workspace: once in grid order and once with the
// blocks in reverse (so another block of each tile comes last). The
// workspace must be zero after each launch and the two results equal bit
// for bit (the planes are added in a fixed order, whichever block sums).
func TestSimGemmWGSplit(t *testing.T) {
	r := rand.New(rand.NewSource(37))
	for i, c := range splitWGShapes {
		for _, dq := range []bool{false, true} {
			q := kernels.NF4
			if (i+b2i(dq))%2 == 1 {
				q = kernels.FP4
			}
			t.Run(fmt.Sprintf("M%d_N%d_K%d_B%d_R%d_s%d_dq%v_%v", c.M, c.N, c.K, c.B, c.Rows, c.Splits, dq, q), func(t *testing.T) {
				p := newProblem(t, r, c.M, c.N, c.K, c.B, dq)
				if q != kernels.NF4 {
					p.wq = deqTable(q.Values(), p.codes, p.absmax, c.N*c.K, c.B)
				}
				g := &kernels.GemmWG{BlockSize: c.B, DoubleQuant: dq, Quant: q, Rows: c.Rows, Splits: c.Splits}
				l, err := g.Launch(p.s)
				if err != nil {
					t.Fatal(err)
				}
				if want := min(c.Splits, (c.K+63)/64); l.Grid[2] != want {
					t.Errorf("grid.z %d, want %d", l.Grid[2], want)
				}
				ws := splitWorkspace(t, g, p)
				ref := forwardRef(p)
				var first []float32
				for _, reverse := range []bool{false, true} {
					var blocks [][3]int
					if reverse {
						for z := l.Grid[2] - 1; z >= 0; z-- {
							for by := l.Grid[1] - 1; by >= 0; by-- {
								for bx := l.Grid[0] - 1; bx >= 0; bx-- {
									blocks = append(blocks, [3]int{bx, by, z})
								}
							}
						}
					}
					y := p.poisoned(t, c.M*c.N)
					launchWG(t, g, p, y, []ptxsim.Ptr{ws}, blocks)
					got := p.read(t, y, c.M*c.N)
					if e := relErr(got, ref); !(e <= 1e-2) {
						t.Errorf("reverse %v: normwise relative error %g", reverse, e)
					}
					checkZero(t, p, g, ws)
					if first == nil {
						first = got
						continue
					}
					for j := range got {
						if math.Float32bits(got[j]) != math.Float32bits(first[j]) {
							t.Fatalf("y[%d] = %g in reverse block order, %g in grid order: the sum depends on which block comes last", j, got[j], first[j])
						}
					}
				}
			})
		}
	}
}
