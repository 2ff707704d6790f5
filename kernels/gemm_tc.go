package kernels

import (
	"fmt"

	"github.com/nf4go/nf4/kernels/ptx"
)

// GemmTC computes y[m,n] = Σ_k x[m,k]·W[n,k] on tensor cores:
// mma.sync m16n8k16 with bf16 inputs and float32 accumulators. A 256-thread
// block owns a 128×128 output tile (2×4 warps of 64×32) and walks K in
// steps of 64. Both operands are staged in shared memory once per step as
// bf16, in a swizzled layout that ldmatrix reads without bank conflicts:
// each thread copies its share of the x rows, which the host rounds to
// bf16 once (cudaplan.ToBF16), with cp.async, and decodes its share of W
// (16 code bytes, streamed three steps deep with cp.async with their
// absmax, through byte tables of the code values picked with prmt, see
// gemm_tc_decode.go), so no value is converted or decoded twice in a
// block and x never passes through L1 or registers. Rows past M or N read
// a clamped row and are never stored; a last step of 32 (K an odd multiple
// of 32) is padded with zeros.
//
// Precision is bf16 (about 3 significant digits) with float32 accumulation.
//
// Params: x_bf16 (x as bf16), codes, scales (absmax, or absmax_q,
// nested_map, nested_absmax, nested_offset), y, m, n, k.
type GemmTC struct {
	BlockSize   int
	DoubleQuant bool
	// Transposed computes the backward product dx[m,k] = Σ_n dy[m,n]·W[n,k]
	// instead (params dy, codes, scales, dx, m, n, k); see gemm_tc_t.go.
	Transposed bool
	Quant      QuantType // the code table (NF4 unless set; see ForQuant)
	// Splits above 1 splits the reduction over grid.z (at most this many
	// ways, see gemm_tc_split.go), for grids under a wave: the kernel
	// takes a workspace.
	Splits int
}

const (
	tcThreads    = 256
	tcBM         = 128             // block rows (M)
	tcBN         = 128             // block columns (N)
	tcBK         = 64              // reduction depth per step
	tcRow        = 2 * tcBK        // bytes of one bf16 tile row: eight 16-byte chunks
	tcTile       = tcBM * tcRow    // one bf16 tile (x or W), 16 KB
	tcCodeStage  = tcBN * tcBK / 2 // one step's raw codes, 4 KB
	tcCodeStages = 3               // cp.async depth of the code stream
	tcScaleStage = tcThreads * 4   // one absmax per thread and step
	tcShared     = 2*tcTile + tcCodeStages*(tcCodeStage+tcScaleStage)
)

// NewGemmTC checks the configuration.
func NewGemmTC(blockSize int, doubleQuant bool) (*GemmTC, error) {
	if err := validBlockSize(blockSize); err != nil {
		return nil, err
	}
	return &GemmTC{BlockSize: blockSize, DoubleQuant: doubleQuant}, nil
}

// NewGemmTCTransposed checks the configuration of the backward product.
func NewGemmTCTransposed(blockSize int, doubleQuant bool) (*GemmTC, error) {
	g, err := NewGemmTC(blockSize, doubleQuant)
	if err != nil {
		return nil, err
	}
	g.Transposed = true
	return g, nil
}

// Name is nf4_gemm[_t]_bf16tc[_sk]_b<B>[_dq]: _t transposed, _sk split
// along the reduction.
func (g *GemmTC) Name() string {
	t := ""
	if g.Transposed {
		t = "_t"
	}
	sk := ""
	if g.split() {
		sk = "_sk"
	}
	return fmt.Sprintf("nf4_gemm%s_bf16tc%s_b%d%s%s", t, sk, g.BlockSize, dqSuffix(g.DoubleQuant), g.Quant.suffix())
}

// Params lists the launch arguments in order.
func (g *GemmTC) Params() []string {
	in, out := "x_bf16", "y"
	if g.Transposed {
		in, out = "dy", "dx"
	}
	p := append([]string{in, "codes"}, scaleParamNames(g.DoubleQuant)...)
	p = append(p, out)
	if g.split() {
		p = append(p, "workspace")
	}
	return append(p, "m", "n", "k")
}

// MinSM is 80: bf16 mma.sync and cp.async are Ampere features.
func (g *GemmTC) MinSM() int { return 80 }

// RegBudget bounds registers per thread: 128 for the forward product, so
// that two blocks share an SM (65536 registers), 200 for the backward one.
func (g *GemmTC) RegBudget() int {
	if g.Transposed {
		return 200
	}
	return 128
}

// Launch tiles the result in 128×128 blocks: grid.x over N (over K when
// transposed), grid.y over M, grid.z over the reduction's splits.
func (g *GemmTC) Launch(s Shape) (Launch, error) {
	if err := checkShape(s, g.BlockSize, true); err != nil {
		return Launch{}, err
	}
	cols, reduce := s.N, s.K
	if g.Transposed {
		cols, reduce = s.K, s.N
	}
	if ceilDiv(s.M, tcBM) > 65535 {
		return Launch{}, fmt.Errorf("%w: M=%d needs more than 65535 row tiles", errShape, s.M)
	}
	l := Launch{
		Grid:        [3]int{ceilDiv(cols, tcBN), ceilDiv(s.M, tcBM), 1},
		Block:       [3]int{tcThreads, 1, 1},
		SharedBytes: tcShared,
	}
	if g.split() {
		if err := g.splitLaunch(&l, s, cols, reduce); err != nil {
			return Launch{}, err
		}
	}
	return l, nil
}

// PTX prints the kernel for target t.
func (g *GemmTC) PTX(t ptx.Target) (string, error) {
	if _, err := NewGemmTC(g.BlockSize, g.DoubleQuant); err != nil {
		return "", err
	}
	if g.Transposed {
		return build(t, g.Quant, g.buildTransposed)
	}
	return build(t, g.Quant, g.build)
}

func (g *GemmTC) build(_ *ptx.Module, _ ptx.Sym) *ptx.Kernel {
	k := ptx.NewKernel(g.Name())
	k.MaxThreads(tcThreads)
	pX, pCodes := k.Param("x_bf16"), k.Param("codes")
	sp := declareScales(k, g.DoubleQuant)
	pY := k.Param("y")
	var pWs ptx.Sym
	if g.split() {
		pWs = k.Param("workspace")
	}
	pM, pN, pK := k.Param("m"), k.Param("n"), k.Param("k")
	sX := k.Shared("tile_x", 16, tcTile)
	sW := k.Shared("tile_w", 16, tcTile)
	sC := k.Shared("tile_codes", 16, tcCodeStages*tcCodeStage)
	sS := k.Shared("tile_scales", 16, tcCodeStages*tcScaleStage)

	x, codes := k.LoadParam(pX), k.LoadParam(pCodes)
	sc := sp.load(k)
	y := k.LoadParam(pY)
	m := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pM))
	n := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pN))
	kk := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pK))
	tab := newCodeTable(k, g.Quant)
	xBase, wBase, cBase, sBase := k.SharedAddr(sX), k.SharedAddr(sW), k.SharedAddr(sC), k.SharedAddr(sS)

	tid := k.Special(ptx.TidX)
	lane := k.Special(ptx.LaneID)
	warp := k.Shift("shr", ptx.U32, tid, ptx.Imm(5))
	wm := k.Shift("shr", ptx.U32, warp, ptx.Imm(2)) // warp row 0..1 (64 rows each)
	wn := k.Op("and", ptx.B32, warp, ptx.Imm(3))    // warp column 0..3 (32 columns each)
	bn := k.Shift("shl", ptx.B32, k.Special(ptx.CtaidX), ptx.Imm(7))
	bm := k.Shift("shl", ptx.B32, k.Special(ptx.CtaidY), ptx.Imm(7))
	mLast := k.Op("sub", ptx.U32, m, ptx.Imm(1))
	nLast := k.Op("sub", ptx.U32, n, ptx.Imm(1))
	halfK := k.Shift("shr", ptx.U32, kk, ptx.Imm(1))
	tiles := k.Shift("shr", ptx.U32, k.Op("add", ptx.U32, kk, ptx.Imm(tcBK-1)), ptx.Imm(6))
	var start ptx.Operand = ptx.Imm(0)
	if g.split() { // this block's steps: [start, tiles)
		start, tiles = splitRange(k, tiles)
	}
	perRow := k.Shift("shr", ptx.U32, kk, ptx.Imm(log2(g.BlockSize)))
	sc.count = k.Op("mul.lo", ptx.U32, n, perRow)

	// x arrives as bf16 (rounded once on the host, see cudaplan.ToBF16):
	// thread tid copies the 16-byte chunk c = tid&7 (k = 8c…) of rows
	// tid>>3 + 32·r (r < 4) with cp.async straight into the swizzled tile:
	// row ρ, chunk c at ρ·128 + (c ^ ρ&7)·16, so the 8 rows an ldmatrix
	// phase reads hit 8 different chunks. ρ&7 is the same for all r. The
	// copy bypasses L1 and needs no registers; it is issued once the step
	// before is done with the tile and lands while W is decoded.
	xRow := k.Shift("shr", ptx.U32, tid, ptx.Imm(3))
	xChunk := k.Op("and", ptx.B32, tid, ptx.Imm(7))
	xK := k.Shift("shl", ptx.B32, xChunk, ptx.Imm(3))
	var xOff [tcBM * tcBK / 8 / tcThreads]ptx.Reg // element offsets of the lane's rows, at k = 8c
	for r := range xOff {
		gm := k.Op("min", ptx.U32, k.Op("add", ptx.U32, bm, k.Op("add", ptx.U32, xRow, ptx.Imm(32*r))), mLast)
		xOff[r] = k.Op("mad.lo", ptx.U32, gm, kk, xK)
	}
	xSwz := k.Op("xor", ptx.B32, xChunk, k.Op("and", ptx.B32, xRow, ptx.Imm(7)))
	xDst := k.Op("add", ptx.U32, k.Op("mad.lo", ptx.U32, xRow, ptx.Imm(tcRow), xBase), k.Shift("shl", ptx.B32, xSwz, ptx.Imm(4)))
	// copyX starts the copy of step t's x chunks; a chunk past K (a last
	// step of 32: K is a multiple of 32, so a chunk is wholly in or out)
	// is stored as zeros instead.
	copyX := func(t ptx.Reg) {
		kt := k.Shift("shl", ptx.B32, t, ptx.Imm(6))
		inK := k.Setp("lt", ptx.U32, k.Op("add", ptx.U32, kt, xK), kk)
		k.IfElse(inK, func() {
			for r := range xOff {
				src := index(k, x, k.Op("add", ptx.U32, xOff[r], kt), 2)
				k.CpAsync(ptx.Addr{Base: xDst, Offset: int64(32 * r * tcRow)}, ptx.Addr{Base: src}, 16)
			}
		}, func() {
			zero := k.Mov(ptx.B32, ptx.Imm(0))
			for r := range xOff {
				k.StV("shared", ptx.B32, ptx.Addr{Base: xDst, Offset: int64(32 * r * tcRow)}, ptx.Vec{zero, zero, zero, zero})
			}
		})
	}

	// Codes: thread tid copies (and later decodes) the 16 code bytes of
	// W row tid>>1, k = 32·(tid&1)… of a step, so it reads back only what
	// it copied itself and the code stages need no barrier. The bf16 W tile
	// has x's swizzled layout.
	wRow := k.Shift("shr", ptx.U32, tid, ptx.Imm(1))
	wHalf := k.Shift("shl", ptx.B32, k.Op("and", ptx.B32, tid, ptx.Imm(1)), ptx.Imm(5)) // 0 or 32
	gnCopy := k.Op("min", ptx.U32, k.Op("add", ptx.U32, bn, wRow), nLast)
	codeRow := index(k, codes, k.Op("mul.lo", ptx.U32, gnCopy, halfK), 1)
	rowBlock := k.Op("mul.lo", ptx.U32, gnCopy, perRow)
	codeOwn := k.Op("add", ptx.U32, cBase, k.Shift("shl", ptx.B32, tid, ptx.Imm(4)))
	// wk is the first k of the thread's half-row in step t, clamped so the
	// address stays in the row when a last step of 32 has no second half.
	wk := func(t ptx.Reg) ptx.Reg {
		return k.Op("min", ptx.U32, k.Op("add", ptx.U32, k.Shift("shl", ptx.B32, t, ptx.Imm(6)), wHalf), k.Op("sub", ptx.U32, kk, ptx.Imm(32)))
	}
	stageOf := func(t ptx.Reg) ptx.Reg { return k.Op("rem", ptx.U32, t, ptx.Imm(tcCodeStages)) }
	scaleOwn := k.Op("add", ptx.U32, sBase, k.Shift("shl", ptx.B32, tid, ptx.Imm(2)))
	blockOf := func(t ptx.Reg) ptx.Reg {
		return k.Op("add", ptx.U32, rowBlock, k.Shift("shr", ptx.U32, wk(t), ptx.Imm(log2(g.BlockSize))))
	}
	// copyCodes starts the copy of step t's codes and, for plain scales,
	// of the thread's absmax: straight into shared memory, where it costs
	// one wavefront per warp instead of a load per row, all rows in one bank.
	copyCodes := func(t ptx.Reg) {
		stage := stageOf(t)
		src := k.Op("add", ptx.U64, codeRow, k.Cvt("", ptx.U64, ptx.U32, k.Shift("shr", ptx.U32, wk(t), ptx.Imm(1))))
		k.CpAsync(ptx.Addr{Base: k.Op("mad.lo", ptx.U32, stage, ptx.Imm(tcCodeStage), codeOwn)}, ptx.Addr{Base: src}, 16)
		if !sc.dq {
			k.CpAsync(ptx.Addr{Base: k.Op("mad.lo", ptx.U32, stage, ptx.Imm(tcScaleStage), scaleOwn)}, ptx.Addr{Base: index(k, sc.absmax, blockOf(t), 4)}, 4)
		}
	}
	// scaleOf is step t's absmax for the thread's half-row: a global load
	// for double-quantized scales (issued a step ahead), else the copy.
	scaleOf := func(t ptx.Reg) ptx.Reg {
		if !sc.dq {
			return k.Ld("shared", ptx.F32, ptx.Addr{Base: k.Op("mad.lo", ptx.U32, stageOf(t), ptx.Imm(tcScaleStage), scaleOwn)})
		}
		return sc.at(k, blockOf(t))
	}
	wChunk := k.Op("xor", ptx.B32, k.Shift("shr", ptx.U32, wHalf, ptx.Imm(3)), k.Op("and", ptx.B32, wRow, ptx.Imm(7)))
	wDstRow := k.Op("mad.lo", ptx.U32, wRow, ptx.Imm(tcRow), wBase)
	var wDst [4]ptx.Reg // chunk 4·half + w, swizzled
	for w := range wDst {
		wDst[w] = k.Op("add", ptx.U32, wDstRow, k.Shift("shl", ptx.B32, k.Op("xor", ptx.B32, wChunk, ptx.Imm(w)), ptx.Imm(4)))
	}
	// decodeW turns the thread's 32 codes of step t into scaled bf16
	// pairs; a half-row past K (a last step of 32) is zeros.
	decodeW := func(t, s ptx.Reg) {
		inK := k.Setp("lt", ptx.U32, k.Op("add", ptx.U32, k.Shift("shl", ptx.B32, t, ptx.Imm(6)), wHalf), kk)
		tab.decodeToShared(k, k.Op("mad.lo", ptx.U32, stageOf(t), ptx.Imm(tcCodeStage), codeOwn), s, wDst, inK)
	}

	// ldmatrix lane addresses per 16-deep step st. A (x4 per m16 tile):
	// matrix q = lane>>3 is rows 8·(q&1)…, k 8·(q>>1)…. B (x4 per pair of
	// n8 tiles): matrix q is n8 tile q>>1, k 8·(q&1)….
	quad := k.Shift("shr", ptx.U32, lane, ptx.Imm(3))
	r8 := k.Op("and", ptx.B32, lane, ptx.Imm(7))
	aRow := k.Op("add", ptx.U32, k.Op("mad.lo", ptx.U32, wm, ptx.Imm(64), r8), k.Shift("shl", ptx.B32, k.Op("and", ptx.B32, quad, ptx.Imm(1)), ptx.Imm(3)))
	aRowAddr := k.Op("mad.lo", ptx.U32, aRow, ptx.Imm(tcRow), xBase)
	aHalf := k.Shift("shr", ptx.U32, quad, ptx.Imm(1))
	bRow := k.Op("add", ptx.U32, k.Op("mad.lo", ptx.U32, wn, ptx.Imm(32), r8), k.Shift("shl", ptx.B32, k.Shift("shr", ptx.U32, quad, ptx.Imm(1)), ptx.Imm(3)))
	bRowAddr := k.Op("mad.lo", ptx.U32, bRow, ptx.Imm(tcRow), wBase)
	bHalf := k.Op("and", ptx.B32, quad, ptx.Imm(1))
	var aAddr, bAddr [tcBK / 16]ptx.Reg
	for st := range aAddr {
		ca := k.Op("xor", ptx.B32, k.Op("add", ptx.U32, aHalf, ptx.Imm(2*st)), r8)
		aAddr[st] = k.Op("add", ptx.U32, aRowAddr, k.Shift("shl", ptx.B32, ca, ptx.Imm(4)))
		cb := k.Op("xor", ptx.B32, k.Op("add", ptx.U32, bHalf, ptx.Imm(2*st)), r8)
		bAddr[st] = k.Op("add", ptx.U32, bRowAddr, k.Shift("shl", ptx.B32, cb, ptx.Imm(4)))
	}

	var acc [4][4]ptx.Vec // [m16 tile][n8 tile]
	for i := range acc {
		for j := range acc[i] {
			acc[i][j] = ptx.Vec{k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0))}
		}
	}

	// Prologue: codes of steps 0 and 1 in flight, step 0 staged.
	t0 := k.Mov(ptx.U32, start)
	t1 := k.Op("add", ptx.U32, t0, ptx.Imm(1))
	copyCodes(t0)
	copyX(t0)
	k.CpAsyncCommit()
	k.If(k.Setp("lt", ptx.U32, t1, tiles), func() { copyCodes(t1) })
	k.CpAsyncCommit()
	var s0 ptx.Reg
	if sc.dq {
		s0 = scaleOf(t0)
	}
	k.CpAsyncWait(1)
	if !sc.dq {
		s0 = scaleOf(t0)
	}
	decodeW(t0, s0)
	k.BarSync()

	// A warp skips its 16-row tiles that lie wholly past M (warp-uniform
	// branches): at M ≤ 64 half the warps have no row of the result, and
	// their ldmatrix traffic would bind the kernel.
	var live [4]ptx.Reg
	for i := range live {
		live[i] = k.Setp("lt", ptx.U32, k.Op("add", ptx.U32, bm, k.Op("mad.lo", ptx.U32, wm, ptx.Imm(64), ptx.Imm(16*i))), m)
	}
	sNext := k.NewReg(ptx.F32)
	k.For(start, tiles, ptx.Imm(1), func(t ptx.Reg) {
		t2 := k.Op("add", ptx.U32, t, ptx.Imm(2))
		k.If(k.Setp("lt", ptx.U32, t2, tiles), func() { copyCodes(t2) })
		k.CpAsyncCommit()
		next := k.Op("add", ptx.U32, t, ptx.Imm(1))
		hasNext := k.Setp("lt", ptx.U32, next, tiles)
		// A double-quantized scale is loaded before this step's math so
		// that its latency hides behind it.
		if sc.dq {
			k.If(hasNext, func() { k.MovTo(sNext, ptx.F32, scaleOf(next)) })
		}
		math := func() {
			for st := 0; st < tcBK/16; st++ {
				var bf [4]ptx.Vec
				for jp := 0; jp < 2; jp++ {
					v := k.Ldmatrix(4, false, ptx.Addr{Base: bAddr[st], Offset: int64(16 * jp * tcRow)})
					bf[2*jp] = ptx.Vec{v[0], v[1]}
					bf[2*jp+1] = ptx.Vec{v[2], v[3]}
				}
				for i := 0; i < 4; i++ {
					tile := func() {
						a := k.Ldmatrix(4, false, ptx.Addr{Base: aAddr[st], Offset: int64(16 * i * tcRow)})
						for j := 0; j < 4; j++ {
							k.Mma(ptx.MmaBF16, acc[i][j], a, bf[j], acc[i][j])
						}
					}
					if i > 0 {
						k.If(live[i], tile)
					} else {
						tile()
					}
				}
			}
		}
		k.If(live[0], math)
		k.BarSync()
		// x lands while W is decoded: the wait for all groups but the
		// newest (x) covers the codes of the next step (and of the one
		// after, started before the math).
		k.If(hasNext, func() {
			copyX(next)
			k.CpAsyncCommit()
			k.CpAsyncWait(1)
			if !sc.dq {
				k.MovTo(sNext, ptx.F32, scaleOf(next))
			}
			decodeW(next, sNext)
			k.CpAsyncWait(0)
		})
		k.BarSync()
	})

	if g.split() {
		tcSplitStore(k, &acc, y, k.LoadParam(pWs), bm, bn, wm, wn, m, n, xBase)
	} else {
		tcStore(k, &acc, y, bm, bn, wm, wn, m, n)
	}
	return k
}

// tcStore writes a warp's 64×32 accumulators into the row-major [m, cols]
// result at block origin (bm, bn): c0,c1 at (row grp, cols 2·tig,
// 2·tig+1), c2,c3 eight rows down; elements outside the result are skipped.
// A pair inside the result goes out as one 8-byte store when cols is even
// (so the pair is aligned), halving the store requests.
func tcStore(k *ptx.Kernel, acc *[4][4]ptx.Vec, y, bm, bn, wm, wn, m, n ptx.Reg) {
	lane := k.Special(ptx.LaneID)
	grp := k.Shift("shr", ptx.U32, lane, ptx.Imm(2))
	tig := k.Op("and", ptx.B32, lane, ptx.Imm(3))
	rowBase := k.Op("add", ptx.U32, bm, k.Op("mad.lo", ptx.U32, wm, ptx.Imm(64), grp))
	colBase := k.Op("add", ptx.U32, bn, k.Op("mad.lo", ptx.U32, wn, ptx.Imm(32), k.Shift("shl", ptx.B32, tig, ptx.Imm(1))))
	even := k.Setp("eq", ptx.U32, k.Op("and", ptx.B32, n, ptx.Imm(1)), ptx.Imm(0))
	for i := range acc {
		for half := 0; half < 2; half++ {
			r := k.Op("add", ptx.U32, rowBase, ptx.Imm(16*i+8*half))
			rowOK := k.Setp("lt", ptx.U32, r, m)
			for j := range acc[i] {
				c := k.Op("add", ptx.U32, colBase, ptx.Imm(8*j))
				v := acc[i][j][2*half : 2*half+2]
				pair := k.SetpAnd("lt", ptx.U32, k.Op("add", ptx.U32, c, ptx.Imm(1)), n, k.Op("and", ptx.Pred, rowOK, even))
				k.IfElse(pair, func() {
					k.StV("global", ptx.F32, ptx.Addr{Base: index(k, y, k.Op("mad.lo", ptx.U32, r, n, c), 4)}, v)
				}, func() {
					for e := range v {
						ce := k.Op("add", ptx.U32, c, ptx.Imm(e))
						k.If(k.SetpAnd("lt", ptx.U32, ce, n, rowOK), func() {
							k.St("global", ptx.F32, ptx.Addr{Base: index(k, y, k.Op("mad.lo", ptx.U32, r, n, ce), 4)}, v[e])
						})
					}
				})
			}
		}
	}
}
