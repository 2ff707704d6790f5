package kernels_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptx"
	"github.com/nf4go/nf4/kernels/ptxsim"
)

// gemmWGShapes are awkward for the warpgroup GEMM: one x row, rows not a
// multiple of a wgmma's 8 or of the block's 128, N not a multiple of 128 or
// of a warp's 16 W rows, K = one block, a last step of 32, more steps than
// the copy ring has stages (so stages and barrier phases are reused).
var gemmWGShapes = []struct{ M, N, K, B, Rows int }{
	{1, 1, 64, 64, 128},
	{17, 70, 96, 32, 128},
	{70, 200, 64, 64, 256},
	{130, 129, 320, 64, 128},
	{300, 65, 256, 64, 256}, // a second block of 256 rows, a ring of 3 reused
}

// launchWG runs GemmWG g on p with y as the output: x as bf16 through the
// tensor map the kernel asks for, passed by value; ws is the split
// variant's workspace (none else), blocks the blocks' order (nil: grid
// order).
func launchWG(t *testing.T, g *kernels.GemmWG, p *problem, y ptxsim.Ptr, ws []ptxsim.Ptr, blocks [][3]int) {
	t.Helper()
	s := p.s
	xh := p.put(t, bf16bytes(p.x))
	m, err := g.TensorMap("x_map", s, uint64(xh))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	src, err := g.PTX(ptx.SM90)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := ptxsim.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	kk, err := mod.Kernel(g.Name())
	if err != nil {
		t.Fatal(err)
	}
	l, err := g.Launch(s)
	if err != nil {
		t.Fatal(err)
	}
	tail := []uint64{uint64(y)}
	for _, w := range ws {
		tail = append(tail, uint64(w))
	}
	args := p.args([]ptxsim.Ptr{p.put(t, enc[:]), p.pc}, append(tail, uint64(s.M), uint64(s.N), uint64(s.K))...)
	if len(args) != len(g.Params()) {
		t.Fatalf("%d args for params %v", len(args), g.Params())
	}
	if blocks == nil {
		err = p.dev.Launch(kk, l.Grid, l.Block, l.DynamicShared, args...)
	} else {
		err = p.dev.LaunchBlocks(kk, l.Grid, l.Block, l.DynamicShared, blocks, args...)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestSimGemmWG runs the sm_90a GEMM in the simulator (which checks the
// barrier phases, the tensor copies' landing and swizzle, the wgmma
// descriptors, fences and accumulator timing) on the shapes above, with
// plain and double-quantized scales and both code tables, on random data
// and NaN-poisoned outputs, against a float64 reference at bf16's precision.
func TestSimGemmWG(t *testing.T) {
	r := rand.New(rand.NewSource(31))
	for i, c := range gemmWGShapes {
		for _, dq := range []bool{false, true} {
			q := kernels.NF4
			if (i+b2i(dq))%2 == 1 {
				q = kernels.FP4
			}
			t.Run(fmt.Sprintf("M%d_N%d_K%d_B%d_R%d_dq%v_%v", c.M, c.N, c.K, c.B, c.Rows, dq, q), func(t *testing.T) {
				p := newProblem(t, r, c.M, c.N, c.K, c.B, dq)
				if q != kernels.NF4 {
					p.wq = deqTable(q.Values(), p.codes, p.absmax, c.N*c.K, c.B)
				}
				g := &kernels.GemmWG{BlockSize: c.B, DoubleQuant: dq, Quant: q, Rows: c.Rows}
				y := p.poisoned(t, c.M*c.N)
				launchWG(t, g, p, y, nil, nil)
				if e := relErr(p.read(t, y, c.M*c.N), forwardRef(p)); !(e <= 1e-2) {
					t.Errorf("normwise relative error %g", e)
				}
			})
		}
	}
}
