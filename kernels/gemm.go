package kernels

import (
	"fmt"

	"github.com/nf4go/nf4/kernels/ptx"
)

// Gemm is the exact float32 matrix product y[m,n] = Σ_k x[m,k]·W[n,k]
// (Transposed: false) or the backward product dx[m,k] = Σ_n dy[m,n]·W[n,k]
// (Transposed: true), with plain float32 FMA. A 256-thread block computes a
// 64×64 output tile; each step decodes a 32-deep slice of W once into shared
// memory (value = code·absmax, exactly as dequantize writes it) next to the
// matching slice of the activations, and each thread accumulates a 4×4
// sub-tile.
//
// Forward params: x, codes, scales, y, m, n, k (x [M,K], y [M,N]).
// Transposed params: dy, codes, scales, dx, m, n, k (dy [M,N], dx [M,K]).
// Scales are absmax, or absmax_q, nested_map, nested_absmax, nested_offset.
type Gemm struct {
	BlockSize   int
	DoubleQuant bool
	Transposed  bool
	Quant       QuantType // the code table (NF4 unless set; see ForQuant)
}

const (
	gemmThreads = 256
	gemmTile    = 64 // output tile edge
	gemmDepth   = 32 // reduction slice per step
)

// NewGemm checks the configuration.
func NewGemm(blockSize int, doubleQuant, transposed bool) (*Gemm, error) {
	if err := validBlockSize(blockSize); err != nil {
		return nil, err
	}
	return &Gemm{BlockSize: blockSize, DoubleQuant: doubleQuant, Transposed: transposed}, nil
}

// Name is nf4_gemm_f32_b<B>[_dq] or nf4_gemm_t_f32_b<B>[_dq].
func (g *Gemm) Name() string {
	t := ""
	if g.Transposed {
		t = "_t"
	}
	return fmt.Sprintf("nf4_gemm%s_f32_b%d%s%s", t, g.BlockSize, dqSuffix(g.DoubleQuant), g.Quant.suffix())
}

// Params lists the launch arguments in order.
func (g *Gemm) Params() []string {
	in, out := "x", "y"
	if g.Transposed {
		in, out = "dy", "dx"
	}
	p := append([]string{in, "codes"}, scaleParamNames(g.DoubleQuant)...)
	return append(p, out, "m", "n", "k")
}

// MinSM is 80.
func (g *Gemm) MinSM() int { return 80 }

// RegBudget bounds registers per thread.
func (g *Gemm) RegBudget() int { return 96 }

// Launch tiles the output in 64×64 blocks: grid.x over N (forward) or K
// (transposed), grid.y over M.
func (g *Gemm) Launch(s Shape) (Launch, error) {
	if err := checkShape(s, g.BlockSize, true); err != nil {
		return Launch{}, err
	}
	cols := s.N
	if g.Transposed {
		cols = s.K
	}
	if ceilDiv(s.M, gemmTile) > 65535 {
		return Launch{}, fmt.Errorf("%w: M=%d needs more than 65535 row tiles", errShape, s.M)
	}
	return Launch{
		Grid:        [3]int{ceilDiv(cols, gemmTile), ceilDiv(s.M, gemmTile), 1},
		Block:       [3]int{gemmThreads, 1, 1},
		SharedBytes: 2 * gemmDepth * gemmTile * 4,
	}, nil
}

// PTX prints the kernel for target t.
func (g *Gemm) PTX(t ptx.Target) (string, error) {
	if _, err := NewGemm(g.BlockSize, g.DoubleQuant, g.Transposed); err != nil {
		return "", err
	}
	return build(t, g.Quant, g.build)
}

// gemmArgs are the values both directions share.
type gemmArgs struct {
	act, codes, out ptx.Reg // pointers
	sc              scales
	m, n, kk        ptx.Reg // u32 sizes
	lut             ptx.Reg
	tid             ptx.Reg
	as, ws          ptx.Reg // shared bases: activations [depth][64], weights [depth][64]
}

func (g *Gemm) build(_ *ptx.Module, cb ptx.Sym) *ptx.Kernel {
	k := ptx.NewKernel(g.Name())
	k.MaxThreads(gemmThreads)
	names := g.Params()
	pAct := k.Param(names[0])
	pCodes := k.Param("codes")
	sp := declareScales(k, g.DoubleQuant)
	pOut := k.Param(names[len(names)-4])
	pM, pN, pK := k.Param("m"), k.Param("n"), k.Param("k")
	sA := k.Shared("tile_act", 16, gemmDepth*gemmTile*4)
	sW := k.Shared("tile_w", 16, gemmDepth*gemmTile*4)

	a := gemmArgs{
		act:   k.LoadParam(pAct),
		codes: k.LoadParam(pCodes),
		sc:    sp.load(k),
		out:   k.LoadParam(pOut),
		m:     k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pM)),
		n:     k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pN)),
		kk:    k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pK)),
		lut:   laneLUT(k, cb),
		tid:   k.Special(ptx.TidX),
		as:    k.SharedAddr(sA),
		ws:    k.SharedAddr(sW),
	}
	a.sc.count = k.Op("mul.lo", ptx.U32, a.n, k.Shift("shr", ptx.U32, a.kk, ptx.Imm(log2(g.BlockSize))))
	col0 := k.Shift("shl", ptx.B32, k.Special(ptx.CtaidX), ptx.Imm(6))
	row0 := k.Shift("shl", ptx.B32, k.Special(ptx.CtaidY), ptx.Imm(6))
	tm := k.Shift("shr", ptx.U32, a.tid, ptx.Imm(4))
	tn := k.Op("and", ptx.B32, a.tid, ptx.Imm(15))
	aRead := k.Op("add", ptx.U32, a.as, k.Shift("shl", ptx.B32, tm, ptx.Imm(4)))
	wRead := k.Op("add", ptx.U32, a.ws, k.Shift("shl", ptx.B32, tn, ptx.Imm(4)))

	var acc [4][4]ptx.Reg
	for i := range acc {
		for j := range acc[i] {
			acc[i][j] = k.Mov(ptx.F32, ptx.F32Imm(0))
		}
	}
	depth := a.kk
	if g.Transposed {
		depth = a.n
	}
	k.For(ptx.Imm(0), depth, ptx.Imm(gemmDepth), func(d0 ptx.Reg) {
		if g.Transposed {
			g.stageT(k, a, row0, col0, d0)
		} else {
			g.stage(k, a, row0, col0, d0)
		}
		k.BarSync()
		for d := 0; d < gemmDepth; d++ {
			av := k.LdV("shared", ptx.F32, 4, ptx.Addr{Base: aRead, Offset: int64(d * gemmTile * 4)})
			bv := k.LdV("shared", ptx.F32, 4, ptx.Addr{Base: wRead, Offset: int64(d * gemmTile * 4)})
			for i := range acc {
				for j := range acc[i] {
					k.OpTo(acc[i][j], "fma.rn", ptx.F32, av[i], bv[j], acc[i][j])
				}
			}
		}
		k.BarSync()
	})

	cols := a.n
	if g.Transposed {
		cols = a.kk
	}
	for i := range acc {
		r := k.Op("add", ptx.U32, row0, k.Op("mad.lo", ptx.U32, tm, ptx.Imm(4), ptx.Imm(i)))
		rowOK := k.Setp("lt", ptx.U32, r, a.m)
		for j := range acc[i] {
			c := k.Op("add", ptx.U32, col0, k.Op("mad.lo", ptx.U32, tn, ptx.Imm(4), ptx.Imm(j)))
			ok := k.SetpAnd("lt", ptx.U32, c, cols, rowOK)
			k.If(ok, func() {
				k.St("global", ptx.F32, ptx.Addr{Base: index(k, a.out, k.Op("mad.lo", ptx.U32, r, cols, c), 4)}, acc[i][j])
			})
		}
	}
	return k
}

// clampSel returns min(v, limit-1) and whether v < limit.
func clampSel(k *ptx.Kernel, v, limit ptx.Reg) (ptx.Reg, ptx.Reg) { return clampStep(k, v, limit, 1) }

// clampStep returns min(v, limit-step) and whether v < limit; v and limit are
// multiples of step, so the clamped value keeps its alignment.
func clampStep(k *ptx.Kernel, v, limit ptx.Reg, step int) (ptx.Reg, ptx.Reg) {
	ok := k.Setp("lt", ptx.U32, v, limit)
	return k.Op("min", ptx.U32, v, k.Op("sub", ptx.U32, limit, ptx.Imm(step))), ok
}

// stage fills the forward tiles for reduction offset k0: x[row0+r, k0+d]
// into act[d][r] and W[col0+c, k0+d] into w[d][c]. Rows past M and N load a
// clamped address and store zeros, so every thread runs the same code.
func (g *Gemm) stage(k *ptx.Kernel, a gemmArgs, row0, col0, k0 ptx.Reg) {
	for rep := 0; rep < 2; rep++ {
		idx := k.Op("add", ptx.U32, a.tid, ptx.Imm(rep*gemmThreads))
		r := k.Shift("shr", ptx.U32, idx, ptx.Imm(3)) // 0..63
		q := k.Op("and", ptx.B32, idx, ptx.Imm(7))    // float4 within the 32-deep slice
		gm, ok := clampSel(k, k.Op("add", ptx.U32, row0, r), a.m)
		e := k.Op("mad.lo", ptx.U32, gm, a.kk, k.Op("mad.lo", ptx.U32, q, ptx.Imm(4), k0))
		v := k.LdV("global.nc", ptx.F32, 4, ptx.Addr{Base: index(k, a.act, e, 4)})
		dst := k.Op("add", ptx.U32, a.as, k.Op("mad.lo", ptx.U32, q, ptx.Imm(4*gemmTile*4), k.Shift("shl", ptx.B32, r, ptx.Imm(2))))
		for j := 0; j < 4; j++ {
			k.St("shared", ptx.F32, ptx.Addr{Base: dst, Offset: int64(j * gemmTile * 4)}, k.Selp(ptx.F32, v[j], ptx.F32Imm(0), ok))
		}
	}
	r := k.Shift("shr", ptx.U32, a.tid, ptx.Imm(2)) // 0..63
	word := k.Op("and", ptx.B32, a.tid, ptx.Imm(3)) // 8 codes each
	gn, ok := clampSel(k, k.Op("add", ptx.U32, col0, r), a.n)
	kw := k.Op("mad.lo", ptx.U32, word, ptx.Imm(8), k0)
	vals := g.decodeWord(k, a, gn, kw, ok)
	dst := k.Op("add", ptx.U32, a.ws, k.Op("mad.lo", ptx.U32, word, ptx.Imm(8*gemmTile*4), k.Shift("shl", ptx.B32, r, ptx.Imm(2))))
	for j, v := range vals {
		k.St("shared", ptx.F32, ptx.Addr{Base: dst, Offset: int64(j * gemmTile * 4)}, v)
	}
}

// stageT fills the backward tiles for reduction offset n0: dy[row0+r, n0+d]
// into act[d][r] and W[n0+d, col0+c] into w[d][c].
func (g *Gemm) stageT(k *ptx.Kernel, a gemmArgs, row0, col0, n0 ptx.Reg) {
	// dy rows have length N, which need not keep 16-byte alignment: scalar loads.
	for rep := 0; rep < 8; rep++ {
		idx := k.Op("add", ptx.U32, a.tid, ptx.Imm(rep*gemmThreads))
		r := k.Op("and", ptx.B32, idx, ptx.Imm(63))   // m within tile
		d := k.Shift("shr", ptx.U32, idx, ptx.Imm(6)) // n within slice
		gm, okM := clampSel(k, k.Op("add", ptx.U32, row0, r), a.m)
		gn, okN := clampSel(k, k.Op("add", ptx.U32, n0, d), a.n)
		ok := k.Op("and", ptx.Pred, okM, okN)
		v := k.Ld("global.nc", ptx.F32, ptx.Addr{Base: index(k, a.act, k.Op("mad.lo", ptx.U32, gm, a.n, gn), 4)})
		dst := k.Op("add", ptx.U32, a.as, k.Shift("shl", ptx.B32, idx, ptx.Imm(2)))
		k.St("shared", ptx.F32, ptx.Addr{Base: dst}, k.Selp(ptx.F32, v, ptx.F32Imm(0), ok))
	}
	d := k.Shift("shr", ptx.U32, a.tid, ptx.Imm(3)) // n within slice, 0..31
	word := k.Op("and", ptx.B32, a.tid, ptx.Imm(7)) // 8 of the 64 k columns
	gn, okN := clampSel(k, k.Op("add", ptx.U32, n0, d), a.n)
	gk, okK := clampStep(k, k.Op("mad.lo", ptx.U32, word, ptx.Imm(8), col0), a.kk, 8)
	vals := g.decodeWord(k, a, gn, gk, k.Op("and", ptx.Pred, okN, okK))
	dst := k.Op("add", ptx.U32, a.ws, k.Op("mad.lo", ptx.U32, d, ptx.Imm(gemmTile*4), k.Shift("shl", ptx.B32, word, ptx.Imm(5))))
	k.StV("shared", ptx.F32, ptx.Addr{Base: dst}, ptx.Vec(vals[:4]))
	k.StV("shared", ptx.F32, ptx.Addr{Base: dst, Offset: 16}, ptx.Vec(vals[4:]))
}

// decodeWord loads the 8 codes W[n, k..k+8) (k a multiple of 8) and returns
// code·absmax, or zeros when ok is false.
func (g *Gemm) decodeWord(k *ptx.Kernel, a gemmArgs, n, kcol, ok ptx.Reg) [8]ptx.Reg {
	halfK := k.Shift("shr", ptx.U32, a.kk, ptx.Imm(1))
	byteOff := k.Op("mad.lo", ptx.U32, n, halfK, k.Shift("shr", ptx.U32, kcol, ptx.Imm(1)))
	w := k.Ld("global.nc", ptx.U32, ptx.Addr{Base: index(k, a.codes, byteOff, 1)})
	perRow := k.Shift("shr", ptx.U32, a.kk, ptx.Imm(log2(g.BlockSize)))
	blk := k.Op("mad.lo", ptx.U32, n, perRow, k.Shift("shr", ptx.U32, kcol, ptx.Imm(log2(g.BlockSize))))
	s := k.Selp(ptx.F32, a.sc.at(k, blk), ptx.F32Imm(0), ok)
	var out [8]ptx.Reg
	for j, v := range decode8(k, a.lut, w) {
		out[j] = k.Op("mul.rn", ptx.F32, v, s)
	}
	return out
}
