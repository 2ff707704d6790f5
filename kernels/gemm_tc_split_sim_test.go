package kernels_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptxsim"
)

// splitTCShapes are awkward for the split tensor-core GEMMs: M past one
// 16-row tile up to two 128-row tiles, result widths not a multiple of the
// 128-wide tile, a reduction of one block (no split possible), of an odd
// number of 32 (a padded last step), and splits that do not divide the
// steps (the last range shorter) or exceed them.
var splitTCShapes = []struct{ M, N, K, B, Splits int }{
	{9, 70, 320, 64, 4},   // forward 5 steps in 3 ranges; backward 2 steps
	{17, 129, 352, 32, 3}, // K an odd multiple of 32
	{33, 40, 64, 64, 2},   // K = one block: forward unsplit
	{70, 200, 448, 64, 16},
	{127, 30, 256, 128, 2},
	{130, 50, 192, 64, 3}, // two row tiles
}

// TestSimGemmTCSplit runs the split-K variants of both tensor-core GEMMs
// on the shapes above, plain and double-quantized scales, NF4 and FP4, on
// NaN-poisoned outputs, against float64 references at bf16's precision,
// twice (launch runs each target), and checks that the workspace is zero
// again afterwards.
func TestSimGemmTCSplit(t *testing.T) {
	r := rand.New(rand.NewSource(31))
	for i, c := range splitTCShapes {
		for _, dq := range []bool{false, true} {
			q := kernels.NF4
			if (i+b2i(dq))%2 == 1 {
				q = kernels.FP4
			}
			name := fmt.Sprintf("M%d_N%d_K%d_B%d_s%d_dq%v_%v", c.M, c.N, c.K, c.B, c.Splits, dq, q)
			t.Run(name, func(t *testing.T) {
				p := newProblem(t, r, c.M, c.N, c.K, c.B, dq)
				if q != kernels.NF4 {
					p.wq = deqTable(q.Values(), p.codes, p.absmax, c.N*c.K, c.B)
				}
				sizes := []uint64{uint64(c.M), uint64(c.N), uint64(c.K)}

				fwd := &kernels.GemmTC{BlockSize: c.B, DoubleQuant: dq, Quant: q, Splits: c.Splits}
				ws := splitWorkspace(t, fwd, p)
				y := p.poisoned(t, c.M*c.N)
				launch(t, fwd, p, p.args([]ptxsim.Ptr{p.put(t, bf16bytes(p.x)), p.pc}, append([]uint64{uint64(y), uint64(ws)}, sizes...)...))
				if e := relErr(p.read(t, y, c.M*c.N), forwardRef(p)); !(e <= 1e-2) {
					t.Errorf("forward: normwise relative error %g", e)
				}
				checkZero(t, p, fwd, ws)

				bwd := &kernels.GemmTC{BlockSize: c.B, DoubleQuant: dq, Quant: q, Splits: c.Splits, Transposed: true}
				ws = splitWorkspace(t, bwd, p)
				dx := p.poisoned(t, c.M*c.K)
				launch(t, bwd, p, p.args([]ptxsim.Ptr{p.pdy, p.pc}, append([]uint64{uint64(dx), uint64(ws)}, sizes...)...))
				if e := relErr(p.read(t, dx, c.M*c.K), backwardRef(p)); !(e <= 1e-2) {
					t.Errorf("backward: normwise relative error %g", e)
				}
				checkZero(t, p, bwd, ws)
			})
		}
	}
}

// splitWorkspace allocates k's workspace for p's shape, zeroed as the
// host does once.
func splitWorkspace(t *testing.T, k kernels.Kernel, p *problem) ptxsim.Ptr {
	t.Helper()
	l, err := k.Launch(p.s)
	if err != nil {
		t.Fatal(err)
	}
	if l.Workspace <= 0 {
		t.Fatalf("%s: no workspace", k.Name())
	}
	return p.put(t, make([]byte, l.Workspace))
}

// checkZero fails unless the workspace at ws is all zero bytes.
func checkZero(t *testing.T, p *problem, k kernels.Kernel, ws ptxsim.Ptr) {
	t.Helper()
	l, _ := k.Launch(p.s)
	b, err := p.dev.Read(ws, l.Workspace)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range b {
		if v != 0 {
			t.Fatalf("%s: workspace byte %d of %d is %#x after the launch, want 0", k.Name(), i, len(b), v)
		}
	}
}

// backwardRef is dx = dy·W in float64.
func backwardRef(p *problem) []float64 {
	s := p.s
	ref := make([]float64, s.M*s.K)
	for m := 0; m < s.M; m++ {
		for n := 0; n < s.N; n++ {
			d := float64(p.dy[m*s.N+n])
			for k := 0; k < s.K; k++ {
				ref[m*s.K+k] += d * float64(p.wq[n*s.K+k])
			}
		}
	}
	return ref
}
