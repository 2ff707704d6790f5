package kernels

import (
	"fmt"

	"github.com/nf4go/nf4/kernels/ptx"
)

// GemmTC computes y[m,n] = Σ_k x[m,k]·W[n,k] on tensor cores:
// mma.sync m16n8k16 with bf16 inputs and float32 accumulators. A 128-thread
// block owns a 128×64 output tile (2×2 warps of 64×32). Each 32-deep step
// streams the float32 rows of x and the raw 4-bit codes of W into shared
// memory with cp.async, double-buffered so the next step's copy overlaps
// this step's math. Every lane then builds its mma fragments directly: x
// pairs are rounded to bf16x2, and the code byte that holds a B-fragment
// pair (two adjacent k of one row, low nibble first) is decoded through the
// per-lane codebook and scaled by the block's absmax. Rows past M or N read
// a clamped row and are never stored.
//
// Precision is bf16 (about 3 significant digits) with float32 accumulation.
//
// Params: x, codes, scales (absmax, or absmax_q, nested_map,
// nested_absmax, nested_offset), y, m, n, k.
type GemmTC struct {
	BlockSize   int
	DoubleQuant bool
	Quant       QuantType // the code table (NF4 unless set; see ForQuant)
}

const (
	tcThreads = 128
	tcBM      = 128 // block rows (M)
	tcBN      = 64  // block columns (N)
	tcBK      = 32  // reduction depth per step
	tcARow    = 160 // bytes per x row in shared: 32 floats plus padding against bank conflicts
	tcAStage  = tcBM * tcARow
	tcWStage  = tcBN * tcBK / 2
)

// NewGemmTC checks the configuration.
func NewGemmTC(blockSize int, doubleQuant bool) (*GemmTC, error) {
	if err := validBlockSize(blockSize); err != nil {
		return nil, err
	}
	return &GemmTC{BlockSize: blockSize, DoubleQuant: doubleQuant}, nil
}

// Name is nf4_gemm_bf16tc_b<B>[_dq].
func (g *GemmTC) Name() string {
	return fmt.Sprintf("nf4_gemm_bf16tc_b%d%s%s", g.BlockSize, dqSuffix(g.DoubleQuant), g.Quant.suffix())
}

// Params lists the launch arguments in order.
func (g *GemmTC) Params() []string {
	p := append([]string{"x", "codes"}, scaleParamNames(g.DoubleQuant)...)
	return append(p, "y", "m", "n", "k")
}

// MinSM is 80: bf16 mma.sync and cp.async are Ampere features.
func (g *GemmTC) MinSM() int { return 80 }

// RegBudget bounds registers per thread.
func (g *GemmTC) RegBudget() int { return 168 }

// Launch tiles y in 128×64 blocks: grid.x over N, grid.y over M.
func (g *GemmTC) Launch(s Shape) (Launch, error) {
	if err := checkShape(s, g.BlockSize, true); err != nil {
		return Launch{}, err
	}
	if ceilDiv(s.M, tcBM) > 65535 {
		return Launch{}, fmt.Errorf("%w: M=%d needs more than 65535 row tiles", errShape, s.M)
	}
	return Launch{
		Grid:        [3]int{ceilDiv(s.N, tcBN), ceilDiv(s.M, tcBM), 1},
		Block:       [3]int{tcThreads, 1, 1},
		SharedBytes: 2 * (tcAStage + tcWStage),
	}, nil
}

// PTX prints the kernel for target t.
func (g *GemmTC) PTX(t ptx.Target) (string, error) {
	if _, err := NewGemmTC(g.BlockSize, g.DoubleQuant); err != nil {
		return "", err
	}
	return build(t, g.Quant, g.build)
}

func (g *GemmTC) build(_ *ptx.Module, cb ptx.Sym) *ptx.Kernel {
	k := ptx.NewKernel(g.Name())
	k.MaxThreads(tcThreads)
	pX, pCodes := k.Param("x"), k.Param("codes")
	sp := declareScales(k, g.DoubleQuant)
	pY, pM, pN, pK := k.Param("y"), k.Param("m"), k.Param("n"), k.Param("k")
	sA := k.Shared("tile_x", 16, 2*tcAStage)
	sW := k.Shared("tile_codes", 16, 2*tcWStage)

	x, codes := k.LoadParam(pX), k.LoadParam(pCodes)
	sc := sp.load(k)
	y := k.LoadParam(pY)
	m := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pM))
	n := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pN))
	kk := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pK))
	lut := laneLUT(k, cb)
	aBase, wBase := k.SharedAddr(sA), k.SharedAddr(sW)

	tid := k.Special(ptx.TidX)
	lane := k.Special(ptx.LaneID)
	warp := k.Shift("shr", ptx.U32, tid, ptx.Imm(5))
	wm := k.Shift("shr", ptx.U32, warp, ptx.Imm(1)) // warp row 0..1 (64 rows each)
	wn := k.Op("and", ptx.B32, warp, ptx.Imm(1))    // warp column 0..1 (32 columns each)
	grp := k.Shift("shr", ptx.U32, lane, ptx.Imm(2))
	tig := k.Op("and", ptx.B32, lane, ptx.Imm(3))
	bn := k.Shift("shl", ptx.B32, k.Special(ptx.CtaidX), ptx.Imm(6))
	bm := k.Shift("shl", ptx.B32, k.Special(ptx.CtaidY), ptx.Imm(7))
	mLast := k.Op("sub", ptx.U32, m, ptx.Imm(1))
	nLast := k.Op("sub", ptx.U32, n, ptx.Imm(1))
	halfK := k.Shift("shr", ptx.U32, kk, ptx.Imm(1))
	tiles := k.Shift("shr", ptx.U32, kk, ptx.Imm(5))
	perRow := k.Shift("shr", ptx.U32, kk, ptx.Imm(log2(g.BlockSize)))
	sc.count = k.Op("mul.lo", ptx.U32, n, perRow)

	// Copy layout: thread tid moves 16-byte chunk tid&7 of x rows
	// tid>>3 + 16·rep (rep < 8), and threads < 64 move one 16-byte row of
	// codes. Rows are clamped so every address is valid.
	xRow := k.Shift("shr", ptx.U32, tid, ptx.Imm(3))
	xCol := k.Shift("shl", ptx.B32, k.Op("and", ptx.B32, tid, ptx.Imm(7)), ptx.Imm(2)) // float index
	xDst := k.Op("mad.lo", ptx.U32, xRow, ptx.Imm(tcARow), k.Op("add", ptx.U32, aBase, k.Shift("shl", ptx.B32, xCol, ptx.Imm(2))))
	codeLoader := k.Setp("lt", ptx.U32, tid, ptx.Imm(tcBN))
	gnCopy := k.Op("min", ptx.U32, k.Op("add", ptx.U32, bn, tid), nLast)
	codeSrc := index(k, codes, k.Op("mul.lo", ptx.U32, gnCopy, halfK), 1)
	codeDst := k.Op("add", ptx.U32, wBase, k.Shift("shl", ptx.B32, tid, ptx.Imm(4)))

	// prefetch starts the copies for step t into stage t&1.
	prefetch := func(t ptx.Reg) {
		stage := k.Op("and", ptx.B32, t, ptx.Imm(1))
		kOff := k.Op("mad.lo", ptx.U32, t, ptx.Imm(tcBK), xCol)
		dst := k.Op("mad.lo", ptx.U32, stage, ptx.Imm(tcAStage), xDst)
		for rep := 0; rep < tcBM*tcBK/4/tcThreads; rep++ {
			gm := k.Op("min", ptx.U32, k.Op("add", ptx.U32, xRow, k.Op("add", ptx.U32, bm, ptx.Imm(16*rep))), mLast)
			src := index(k, x, k.Op("mad.lo", ptx.U32, gm, kk, kOff), 4)
			k.CpAsync(ptx.Addr{Base: dst, Offset: int64(16 * rep * tcARow)}, ptx.Addr{Base: src}, 16)
		}
		k.If(codeLoader, func() {
			cOff := k.MulWide(ptx.U32, t, ptx.Imm(tcBK/2))
			dst := k.Op("mad.lo", ptx.U32, stage, ptx.Imm(tcWStage), codeDst)
			k.CpAsync(ptx.Addr{Base: dst}, ptx.Addr{Base: k.Op("add", ptx.U64, codeSrc, cOff)}, 16)
		})
	}

	// Per-lane fragment addresses inside a stage.
	aLane := k.Op("mad.lo", ptx.U32, k.Op("mad.lo", ptx.U32, wm, ptx.Imm(64), grp), ptx.Imm(tcARow),
		k.Op("add", ptx.U32, aBase, k.Shift("shl", ptx.B32, tig, ptx.Imm(3))))
	nLocal := k.Op("mad.lo", ptx.U32, wn, ptx.Imm(32), grp) // + 8j
	wLane := k.Op("add", ptx.U32, wBase, k.Shift("shl", ptx.B32, nLocal, ptx.Imm(4)))
	loPos := k.Shift("shl", ptx.B32, tig, ptx.Imm(3))
	hiPos := k.Op("add", ptx.U32, loPos, ptx.Imm(4))
	var rowBlock [4]ptx.Reg // first scale index of each of the lane's 4 W rows
	for j := range rowBlock {
		gn := k.Op("min", ptx.U32, k.Op("add", ptx.U32, bn, k.Op("add", ptx.U32, nLocal, ptx.Imm(8*j))), nLast)
		rowBlock[j] = k.Op("mul.lo", ptx.U32, gn, perRow)
	}

	var acc [4][4]ptx.Vec // [m16 tile][n8 tile]
	for i := range acc {
		for j := range acc[i] {
			acc[i][j] = ptx.Vec{k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0))}
		}
	}

	prefetch(k.Mov(ptx.U32, ptx.Imm(0)))
	k.CpAsyncCommit()
	k.For(ptx.Imm(0), tiles, ptx.Imm(1), func(t ptx.Reg) {
		nextT := k.Op("add", ptx.U32, t, ptx.Imm(1))
		k.If(k.Setp("lt", ptx.U32, nextT, tiles), func() { prefetch(nextT) })
		k.CpAsyncCommit()
		k.CpAsyncWait(1)
		k.BarSync()
		stage := k.Op("and", ptx.B32, t, ptx.Imm(1))
		aS := k.Op("mad.lo", ptx.U32, stage, ptx.Imm(tcAStage), aLane)
		wS := k.Op("mad.lo", ptx.U32, stage, ptx.Imm(tcWStage), wLane)
		kBlock := k.Shift("shr", ptx.U32, k.Shift("shl", ptx.B32, t, ptx.Imm(5)), ptx.Imm(log2(g.BlockSize)))

		// B fragments: [n8 tile][k16 step] -> 2 regs.
		var bf [4][2]ptx.Vec
		for j := 0; j < 4; j++ {
			s := sc.at(k, k.Op("add", ptx.U32, rowBlock[j], kBlock))
			words := k.LdV("shared", ptx.U32, 4, ptx.Addr{Base: wS, Offset: int64(8 * j * 16)})
			var regs [4]ptx.Reg
			for w, word := range words {
				lo := k.Shfl("idx", lut, k.Bfe(ptx.U32, word, loPos, ptx.Imm(4)), 31)
				hi := k.Shfl("idx", lut, k.Bfe(ptx.U32, word, hiPos, ptx.Imm(4)), 31)
				regs[w] = k.CvtPack(ptx.BF16x2, k.Op("mul.rn", ptx.F32, lo, s), k.Op("mul.rn", ptx.F32, hi, s))
			}
			bf[j][0] = ptx.Vec{regs[0], regs[1]}
			bf[j][1] = ptx.Vec{regs[2], regs[3]}
		}
		for st := 0; st < 2; st++ {
			for i := 0; i < 4; i++ {
				var a ptx.Vec
				for _, off := range []int{0, 8 * tcARow, 32, 8*tcARow + 32} {
					v := k.LdV("shared", ptx.F32, 2, ptx.Addr{Base: aS, Offset: int64(i*16*tcARow + st*64 + off)})
					a = append(a, k.CvtPack(ptx.BF16x2, v[0], v[1]))
				}
				for j := 0; j < 4; j++ {
					k.Mma(ptx.MmaBF16, acc[i][j], a, bf[j][st], acc[i][j])
				}
			}
		}
		k.BarSync()
	})

	// Epilogue: c0,c1 at (row grp, cols 2·tig, 2·tig+1); c2,c3 eight rows down.
	rowBase := k.Op("add", ptx.U32, bm, k.Op("mad.lo", ptx.U32, wm, ptx.Imm(64), grp))
	colBase := k.Op("add", ptx.U32, bn, k.Op("mad.lo", ptx.U32, wn, ptx.Imm(32), k.Shift("shl", ptx.B32, tig, ptx.Imm(1))))
	for i := range acc {
		for half := 0; half < 2; half++ {
			r := k.Op("add", ptx.U32, rowBase, ptx.Imm(16*i+8*half))
			rowOK := k.Setp("lt", ptx.U32, r, m)
			for j := range acc[i] {
				for e := 0; e < 2; e++ {
					c := k.Op("add", ptx.U32, colBase, ptx.Imm(8*j+e))
					v := acc[i][j][2*half+e]
					k.If(k.SetpAnd("lt", ptx.U32, c, n, rowOK), func() {
						k.St("global", ptx.F32, ptx.Addr{Base: index(k, y, k.Op("mad.lo", ptx.U32, r, n, c), 4)}, v)
					})
				}
			}
		}
	}
	return k
}
