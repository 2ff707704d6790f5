package kernels_test

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptxsim"
)

// gemvTCShapes are awkward for the tensor-core gemv: N not a multiple of
// 16 or of a block's tiles, K = one block, K not a multiple of the
// 128-weight unit, K giving the first warp one trip more than the others,
// block sizes from 32 (four scales per unit) to 4096, and K whose rows'
// scales do (1280, 768, 1152) and do not align to the trips' vector loads.
var gemvTCShapes = []struct{ N, K, B int }{
	{11, 1280, 64},
	{27, 768, 128},
	{13, 1152, 32}, // the last trip's scales run past the row
	{2, 64, 64},    // row 0 is the all-zero block newProblem makes
	{21, 1344, 64},
	{37, 640, 128},
	{5, 32, 32},
	{19, 2112, 32},
	{9, 4096, 4096},
}

// TestSimGemvTC runs M = 2…8 on the shapes above, with plain and
// double-quantized scales, both code tables and tiles per block, on random
// data and NaN-poisoned outputs, against a float64 reference at bf16's
// precision.
func TestSimGemvTC(t *testing.T) {
	r := rand.New(rand.NewSource(21))
	for m := kernels.MinGemvTCM; m <= kernels.MaxGemvM; m++ {
		for i, c := range gemvTCShapes {
			for _, dq := range []bool{false, true} {
				q := kernels.NF4
				if (i+m)%2 == 1 {
					q = kernels.FP4
				}
				checkGemvTC(t, r, m, c.N, c.K, c.B, dq, q, 1+(i+m+b2i(dq))%kernels.GemvTCMaxTiles(c.B))
			}
		}
	}
}

// TestSimGemvTCWide runs batches of two B tiles (M = 9…16: a second
// tile of one row, part-filled, full) the same way on a subset of the
// shapes, every tile count they allow.
func TestSimGemvTCWide(t *testing.T) {
	r := rand.New(rand.NewSource(22))
	for mi, m := range []int{9, 12, 15, 16} {
		for i, c := range gemvTCShapes {
			if (i+mi)%2 == 1 && c.B != 4096 {
				continue
			}
			dq := (i+mi)%3 == 0
			q := kernels.NF4
			if (i+mi)%4 == 2 {
				q = kernels.FP4
			}
			checkGemvTC(t, r, m, c.N, c.K, c.B, dq, q, 1+(i/2+mi)%kernels.GemvTCMaxTilesM(m, c.B))
		}
	}
}

// checkGemvTC runs the tensor-core gemv for batch m with the given tiles
// per block on W[n, k] (block size b) against the float64 reference, at
// bf16's precision, its output poisoned with NaN.
func checkGemvTC(t *testing.T, r *rand.Rand, m, n, k, b int, dq bool, q kernels.QuantType, tiles int) {
	name := fmt.Sprintf("M%d_N%d_K%d_B%d_dq%v_%v_t%d", m, n, k, b, dq, q, tiles)
	t.Run(name, func(t *testing.T) {
		p := newProblem(t, r, m, n, k, b, dq)
		if q != kernels.NF4 {
			p.wq = deqTable(q.Values(), p.codes, p.absmax, n*k, b)
		}
		g := &kernels.GemvTC{M: m, BlockSize: b, DoubleQuant: dq, Quant: q, Tiles: tiles}
		y := p.poisoned(t, m*n)
		xh := p.put(t, bf16bytes(p.x))
		launch(t, g, p, p.args([]ptxsim.Ptr{xh, p.pc}, uint64(y), uint64(n), uint64(k)))
		if e := relErr(p.read(t, y, m*n), forwardRef(p)); !(e <= 1e-2) {
			t.Errorf("normwise relative error %g", e)
		}
	})
}

// bf16bytes rounds v to bf16 (to nearest, ties to even), little-endian.
func bf16bytes(v []float32) []byte {
	b := make([]byte, 2*len(v))
	for i, f := range v {
		u := math.Float32bits(f)
		h := uint16((u + 0x7fff + (u >> 16 & 1)) >> 16)
		b[2*i], b[2*i+1] = byte(h), byte(h>>8)
	}
	return b
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
