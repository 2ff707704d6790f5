package kernels

import (
	"fmt"

	"github.com/nf4go/nf4/kernels/ptx"
	"github.com/nf4go/nf4/kernels/tensormap"
)

// GemmWG computes y[m,n] = Σ_k x[m,k]·W[n,k] on Hopper's warpgroup tensor
// cores (sm_90a only): yᵀ = W·xᵀ with wgmma m64nRk16 (R = Rows, 128 or
// 256), bf16 operands and float32 accumulators, both operands read from
// shared memory. A 256-thread block (two warpgroups of 64 W rows each)
// owns 128 W rows × R x rows and walks K in steps of 64.
//
// x (as bf16, rounded once on the host like GemmTC's x_bf16) arrives by the
// tensor memory accelerator: one cp.async.bulk.tensor per step, a box of
// R rows × 64 k swizzled by 128 bytes, issued by thread 0 through a ring
// of 4 stages (3 at R = 256) in dynamic shared memory, each with an mbarrier that
// the copy's bytes complete; rows past M and k past K arrive as zeros. W
// codes stream three steps deep with cp.async and are decoded once per
// block (GemmTC's codeTable) into a double-buffered bf16 tile with the same
// 128-byte swizzle, fenced for the async proxy before wgmma reads it. Each
// step issues four wgmmas (k16 each, the descriptors' start advanced 32
// bytes inside the swizzled row), commits them, and waits for the step
// before's group (wait_group 1) while it decodes the next W tile; the
// barrier after that frees the stage the step before read for the copy of
// the step the ring's depth less one ahead.
//
// Precision is bf16 (about 3 significant digits) with float32 accumulation.
//
// Params: x_map (a tensor map over x as bf16, see TensorMap), codes, scales
// (absmax, or absmax_q, nested_map, nested_absmax, nested_offset), y,
// workspace (the split variant only), m, n, k. The launch passes DynamicShared bytes of dynamic shared memory.
type GemmWG struct {
	BlockSize   int
	DoubleQuant bool
	Quant       QuantType // the code table (NF4 unless set; see ForQuant)
	// Rows is the x rows per block, the wgmma N: 128 (also for 0) or 256,
	// which halves the W decodes per product at twice the accumulators
	// (one block per SM) and half the blocks.
	Rows int
	// Splits above 1 splits K over grid.z (at most MaxTCSplits ways) as
	// GemmTC's split does (gemm_tc_split.go), for grids under a wave: the
	// kernel takes a workspace after y.
	Splits int
}

const (
	wgThreads    = 256
	wgBN         = 128 // W rows per block (wgmma M, 64 per warpgroup)
	wgBK         = 64  // reduction depth per step: one 128-byte swizzled row
	wgRow        = 2 * wgBK
	wgWTile      = wgBN * wgRow // 16 KB
	wgCodeStage  = wgBN * wgBK / 2
	wgCodeStages = 3
	wgScaleStage = wgThreads * 4
)

// wgLayout is the dynamic shared memory of one configuration: the x ring
// (stages of bm rows × 128 bytes), two W tiles, the code and scale stages,
// the ring's barriers.
type wgLayout struct {
	bm, stages, xStage                 int
	offW, offCodes, offScales, offBars int
	shared                             int
}

func (g *GemmWG) layout() wgLayout {
	l := wgLayout{bm: 128, stages: 4}
	if g.Rows == 256 {
		l.bm, l.stages = 256, 3
	}
	l.xStage = l.bm * wgRow
	l.offW = l.stages * l.xStage
	l.offCodes = l.offW + 2*wgWTile
	l.offScales = l.offCodes + wgCodeStages*wgCodeStage
	l.offBars = l.offScales + wgCodeStages*wgScaleStage
	l.shared = l.offBars + 8*l.stages
	return l
}

// NewGemmWG checks the configuration.
func NewGemmWG(blockSize int, doubleQuant bool) (*GemmWG, error) {
	if err := validBlockSize(blockSize); err != nil {
		return nil, err
	}
	return &GemmWG{BlockSize: blockSize, DoubleQuant: doubleQuant}, nil
}

func (g *GemmWG) check() error {
	if err := validBlockSize(g.BlockSize); err != nil {
		return err
	}
	if g.Rows != 0 && g.Rows != 128 && g.Rows != 256 {
		return fmt.Errorf("kernels: GemmWG rows per block %d (want 128 or 256)", g.Rows)
	}
	if g.Splits > MaxTCSplits {
		return fmt.Errorf("kernels: GemmWG: %d splits, at most %d", g.Splits, MaxTCSplits)
	}
	return nil
}

// Name is nf4_gemm_bf16wg[_sk]_b<B>[_n256][_dq]: _sk split along K.
func (g *GemmWG) Name() string {
	rows := ""
	if g.Rows == 256 {
		rows = "_n256"
	}
	sk := ""
	if g.split() {
		sk = "_sk"
	}
	return fmt.Sprintf("nf4_gemm_bf16wg%s_b%d%s%s%s", sk, g.BlockSize, rows, dqSuffix(g.DoubleQuant), g.Quant.suffix())
}

// split reports whether the kernel is the split-K variant.
func (g *GemmWG) split() bool { return g.Splits > 1 }

// Params lists the launch arguments in order.
func (g *GemmWG) Params() []string {
	p := append([]string{"x_map", "codes"}, scaleParamNames(g.DoubleQuant)...)
	p = append(p, "y")
	if g.split() {
		p = append(p, "workspace")
	}
	return append(p, "m", "n", "k")
}

// MinSM is 90: wgmma and the tensor memory accelerator are Hopper's, and
// the code is sm_90a, which runs on compute capability 9.0 only.
func (g *GemmWG) MinSM() int { return 90 }

// RegBudget: 64 (128 with 256 rows) accumulators a thread plus the
// decode: two blocks share an SM at 128 rows, one runs at 256.
func (g *GemmWG) RegBudget() int {
	if g.Rows == 256 {
		return 232
	}
	return 128
}

// Launch tiles yᵀ in blocks of 128 W rows × Rows x rows: grid.x over N,
// grid.y over M, grid.z over K's splits.
func (g *GemmWG) Launch(s Shape) (Launch, error) {
	if err := g.check(); err != nil {
		return Launch{}, err
	}
	if err := checkShape(s, g.BlockSize, true); err != nil {
		return Launch{}, err
	}
	l := g.layout()
	if ceilDiv(s.M, l.bm) > 65535 {
		return Launch{}, fmt.Errorf("%w: M=%d needs more than 65535 row tiles", errShape, s.M)
	}
	ln := Launch{
		Grid:          [3]int{ceilDiv(s.N, wgBN), ceilDiv(s.M, l.bm), 1},
		Block:         [3]int{wgThreads, 1, 1},
		DynamicShared: l.shared,
	}
	if g.split() {
		if err := setSplitLaunch(&ln, g.Splits, ceilDiv(s.K, wgBK), s.M, s.N); err != nil {
			return Launch{}, err
		}
	}
	return ln, nil
}

// TensorMap is the map x_map must hold: x as bf16, row-major [M][K] at
// base, a box of 64 k × Rows rows swizzled by 128 bytes.
func (g *GemmWG) TensorMap(param string, s Shape, base uint64) (tensormap.Map2D, error) {
	if param != "x_map" {
		return tensormap.Map2D{}, fmt.Errorf("kernels: %s has no tensor-map parameter %q", g.Name(), param)
	}
	if err := g.check(); err != nil {
		return tensormap.Map2D{}, err
	}
	if err := checkShape(s, g.BlockSize, true); err != nil {
		return tensormap.Map2D{}, err
	}
	m := tensormap.Map2D{Base: base, Elem: tensormap.BFloat16, Cols: uint64(s.K), Rows: uint64(s.M),
		RowStride: 2 * uint64(s.K), BoxCols: wgBK, BoxRows: uint32(g.layout().bm), Swizzle: tensormap.Swizzle128B}
	return m, m.Validate()
}

// PTX prints the kernel; only SM90 (as sm_90a) has it.
func (g *GemmWG) PTX(t ptx.Target) (string, error) {
	if err := g.check(); err != nil {
		return "", err
	}
	if t.SM != 90 {
		return "", fmt.Errorf("kernels: %s is sm_90a code, not for %s", g.Name(), t)
	}
	return build(ptx.SM90a, g.Quant, g.build)
}

func (g *GemmWG) build(_ *ptx.Module, _ ptx.Sym) *ptx.Kernel {
	k := ptx.NewKernel(g.Name())
	k.MaxThreads(wgThreads)
	k.MaxRegs(g.RegBudget())
	lay := g.layout()
	pX, pCodes := k.TensorMapParam("x_map"), k.Param("codes")
	sp := declareScales(k, g.DoubleQuant)
	pY := k.Param("y")
	var pWs ptx.Sym
	if g.split() {
		pWs = k.Param("workspace")
	}
	pM, pN, pK := k.Param("m"), k.Param("n"), k.Param("k")
	smem := k.SharedAddr(k.ExternShared("wg_smem", 1024))

	xmap := k.TensorMapAddr(pX)
	codes := k.LoadParam(pCodes)
	sc := sp.load(k)
	y := k.LoadParam(pY)
	m := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pM))
	n := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pN))
	kk := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pK))
	tab := newCodeTable(k, g.Quant)
	xBase := smem
	wBase := k.Op("add", ptx.U32, smem, ptx.Imm(lay.offW))
	cBase := k.Op("add", ptx.U32, smem, ptx.Imm(lay.offCodes))
	sBase := k.Op("add", ptx.U32, smem, ptx.Imm(lay.offScales))
	barBase := k.Op("add", ptx.U32, smem, ptx.Imm(lay.offBars))

	tid := k.Special(ptx.TidX)
	first := k.Setp("eq", ptx.U32, tid, ptx.Imm(0))
	wgroup := k.Shift("shr", ptx.U32, tid, ptx.Imm(7)) // 0, 1: W rows 64·wgroup…
	bn := k.Shift("shl", ptx.B32, k.Special(ptx.CtaidX), ptx.Imm(7))
	bm := k.Shift("shl", ptx.B32, k.Special(ptx.CtaidY), ptx.Imm(log2(lay.bm)))
	nLast := k.Op("sub", ptx.U32, n, ptx.Imm(1))
	halfK := k.Shift("shr", ptx.U32, kk, ptx.Imm(1))
	tiles := k.Shift("shr", ptx.U32, k.Op("add", ptx.U32, kk, ptx.Imm(wgBK-1)), ptx.Imm(6))
	// The loop counts this block's steps from 0 (ring stages, barrier
	// phases, buffers); kOf is step t's first k.
	kOf := func(t ptx.Reg) ptx.Reg { return k.Shift("shl", ptx.B32, t, ptx.Imm(6)) }
	if g.split() {
		start, end := splitRange(k, tiles)
		tiles = k.Op("sub", ptx.U32, end, start)
		kOf = func(t ptx.Reg) ptx.Reg {
			return k.Shift("shl", ptx.B32, k.Op("add", ptx.U32, t, start), ptx.Imm(6))
		}
	}
	perRow := k.Shift("shr", ptx.U32, kk, ptx.Imm(log2(g.BlockSize)))
	sc.count = k.Op("mul.lo", ptx.U32, n, perRow)

	// The ring: stage s of step t is t mod stages, its barrier's phase
	// parity (t / stages) & 1.
	stageX := func(t ptx.Reg) ptx.Reg { return k.Op("rem", ptx.U32, t, ptx.Imm(lay.stages)) }
	barOf := func(s ptx.Reg) ptx.Addr { return ptx.Addr{Base: k.Op("mad.lo", ptx.U32, s, ptx.Imm(8), barBase)} }
	issueX := func(t ptx.Reg) {
		s := stageX(t)
		bar := barOf(s)
		k.MbarrierArriveExpectTx(bar, ptx.Imm(lay.xStage))
		dst := k.Op("mad.lo", ptx.U32, s, ptx.Imm(lay.xStage), xBase)
		k.TensorLoad2D(ptx.Addr{Base: dst}, xmap, kOf(t), bm, bar)
	}

	// Codes, scales and the W decode as in GemmTC: thread tid copies and
	// decodes the 16 code bytes of W row tid>>1, k = 32·(tid&1)… of a step.
	wRow := k.Shift("shr", ptx.U32, tid, ptx.Imm(1))
	wHalf := k.Shift("shl", ptx.B32, k.Op("and", ptx.B32, tid, ptx.Imm(1)), ptx.Imm(5))
	gnCopy := k.Op("min", ptx.U32, k.Op("add", ptx.U32, bn, wRow), nLast)
	codeRow := index(k, codes, k.Op("mul.lo", ptx.U32, gnCopy, halfK), 1)
	rowBlock := k.Op("mul.lo", ptx.U32, gnCopy, perRow)
	codeOwn := k.Op("add", ptx.U32, cBase, k.Shift("shl", ptx.B32, tid, ptx.Imm(4)))
	wk := func(t ptx.Reg) ptx.Reg {
		return k.Op("min", ptx.U32, k.Op("add", ptx.U32, kOf(t), wHalf), k.Op("sub", ptx.U32, kk, ptx.Imm(32)))
	}
	stageOf := func(t ptx.Reg) ptx.Reg { return k.Op("rem", ptx.U32, t, ptx.Imm(wgCodeStages)) }
	scaleOwn := k.Op("add", ptx.U32, sBase, k.Shift("shl", ptx.B32, tid, ptx.Imm(2)))
	blockOf := func(t ptx.Reg) ptx.Reg {
		return k.Op("add", ptx.U32, rowBlock, k.Shift("shr", ptx.U32, wk(t), ptx.Imm(log2(g.BlockSize))))
	}
	copyCodes := func(t ptx.Reg) {
		stage := stageOf(t)
		src := k.Op("add", ptx.U64, codeRow, k.Cvt("", ptx.U64, ptx.U32, k.Shift("shr", ptx.U32, wk(t), ptx.Imm(1))))
		k.CpAsync(ptx.Addr{Base: k.Op("mad.lo", ptx.U32, stage, ptx.Imm(wgCodeStage), codeOwn)}, ptx.Addr{Base: src}, 16)
		if !sc.dq {
			k.CpAsync(ptx.Addr{Base: k.Op("mad.lo", ptx.U32, stage, ptx.Imm(wgScaleStage), scaleOwn)}, ptx.Addr{Base: index(k, sc.absmax, blockOf(t), 4)}, 4)
		}
	}
	scaleOf := func(t ptx.Reg) ptx.Reg {
		if !sc.dq {
			return k.Ld("shared", ptx.F32, ptx.Addr{Base: k.Op("mad.lo", ptx.U32, stageOf(t), ptx.Imm(wgScaleStage), scaleOwn)})
		}
		return sc.at(k, blockOf(t))
	}
	wChunk := k.Op("xor", ptx.B32, k.Shift("shr", ptx.U32, wHalf, ptx.Imm(3)), k.Op("and", ptx.B32, wRow, ptx.Imm(7)))
	wRowOff := k.Op("mul.lo", ptx.U32, wRow, ptx.Imm(wgRow))
	// decodeW decodes step t's codes into W buffer t & 1 and fences the
	// stores for wgmma.
	decodeW := func(t, s ptx.Reg) {
		buf := k.Op("mad.lo", ptx.U32, k.Op("and", ptx.B32, t, ptx.Imm(1)), ptx.Imm(wgWTile), k.Op("add", ptx.U32, wBase, wRowOff))
		var dst [4]ptx.Reg
		for w := range dst {
			dst[w] = k.Op("add", ptx.U32, buf, k.Shift("shl", ptx.B32, k.Op("xor", ptx.B32, wChunk, ptx.Imm(w)), ptx.Imm(4)))
		}
		inK := k.Setp("lt", ptx.U32, k.Op("add", ptx.U32, kOf(t), wHalf), kk)
		tab.decodeToShared(k, k.Op("mad.lo", ptx.U32, stageOf(t), ptx.Imm(wgCodeStage), codeOwn), s, dst, inK)
		k.FenceProxyAsync()
	}

	// Descriptors: K-major, 128-byte swizzle, eight-row groups 1024 bytes
	// apart; step kk16 of a tile starts 32 bytes further into the row.
	descConst := ptx.Imm(int64(ptx.MatrixDesc(16, 8*wgRow, ptx.DescSwizzle128)))
	desc := func(addr ptx.Reg) ptx.Reg {
		a := k.Cvt("", ptx.U64, ptx.U32, k.Shift("shr", ptx.U32, addr, ptx.Imm(4)))
		return k.Op("or", ptx.B64, a, descConst)
	}
	wOwn := k.Op("mad.lo", ptx.U32, wgroup, ptx.Imm(64*wgRow), wBase)

	acc := make(ptx.Vec, lay.bm/2)
	for i := range acc {
		acc[i] = k.Mov(ptx.F32, ptx.F32Imm(0))
	}

	// Prologue: barriers, the first stages−1 copies of x, codes of steps
	// 0 and 1 in flight, W of step 0 decoded.
	k.If(first, func() {
		for s := 0; s < lay.stages; s++ {
			k.MbarrierInit(ptx.Addr{Base: barBase, Offset: int64(8 * s)}, ptx.Imm(1))
		}
		k.FenceMbarrierInit()
	})
	k.BarSync()
	k.If(first, func() {
		for s := 0; s < lay.stages-1; s++ {
			ts := k.Mov(ptx.U32, ptx.Imm(s))
			k.If(k.Setp("lt", ptx.U32, ts, tiles), func() { issueX(ts) })
		}
	})
	t0 := k.Mov(ptx.U32, ptx.Imm(0))
	t1 := k.Mov(ptx.U32, ptx.Imm(1))
	copyCodes(t0)
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

	sNext := k.NewReg(ptx.F32)
	k.For(ptx.Imm(0), tiles, ptx.Imm(1), func(t ptx.Reg) {
		t2 := k.Op("add", ptx.U32, t, ptx.Imm(2))
		k.If(k.Setp("lt", ptx.U32, t2, tiles), func() { copyCodes(t2) })
		k.CpAsyncCommit()
		next := k.Op("add", ptx.U32, t, ptx.Imm(1))
		hasNext := k.Setp("lt", ptx.U32, next, tiles)
		if sc.dq {
			k.If(hasNext, func() { k.MovTo(sNext, ptx.F32, scaleOf(next)) })
		}
		s := stageX(t)
		k.MbarrierWait(barOf(s), k.Op("and", ptx.B32, k.Op("div", ptx.U32, t, ptx.Imm(lay.stages)), ptx.Imm(1)))
		xs := k.Op("mad.lo", ptx.U32, s, ptx.Imm(lay.xStage), xBase)
		ws := k.Op("mad.lo", ptx.U32, k.Op("and", ptx.B32, t, ptx.Imm(1)), ptx.Imm(wgWTile), wOwn)
		k.WgmmaFence()
		for st := 0; st < wgBK/16; st++ {
			var scale ptx.Operand = ptx.Imm(1)
			if st == 0 {
				scale = k.Setp("ne", ptx.U32, t, ptx.Imm(0))
			}
			k.Wgmma(lay.bm, acc, desc(k.Op("add", ptx.U32, ws, ptx.Imm(32*st))), desc(k.Op("add", ptx.U32, xs, ptx.Imm(32*st))), scale)
		}
		k.WgmmaCommit()
		// The step before's group retires: its W buffer, the one decoded
		// next, and its x stage are free.
		k.WgmmaWait(1)
		k.If(hasNext, func() {
			k.CpAsyncWait(1)
			if !sc.dq {
				k.MovTo(sNext, ptx.F32, scaleOf(next))
			}
			decodeW(next, sNext)
		})
		k.BarSync()
		ahead := k.Op("add", ptx.U32, t, ptx.Imm(lay.stages-1))
		k.If(k.SetpAnd("lt", ptx.U32, ahead, tiles, first), func() { issueX(ahead) })
	})
	k.WgmmaWait(0)
	if g.split() {
		// The partial tile into plane z, then the last block's sum; the
		// code stages (their copies all waited for) hold the flag.
		ws := k.LoadParam(pWs)
		plane := k.Op("mul.lo", ptx.U32, m, n)
		wgStore(k, acc, index(k, ws, k.Op("mul.lo", ptx.U32, k.Special(ptx.CtaidZ), plane), 4), bm, bn, wgroup, m, n)
		k.CpAsyncWait(0)
		splitReduce(k, y, ws, plane, bm, bn, m, n, cBase, lay.bm, wgThreads)
		return k
	}
	wgStore(k, acc, y, bm, bn, wgroup, m, n)
	return k
}

// wgStore writes the warpgroup's 64×Rows block of yᵀ: register i of thread
// l holds W row 16·warp + l/4 (+8 for i&2) and x row 8·(i/4) + 2·(l%4) +
// (i&1) of the wgmma D fragment, stored at y[m][n], skipping rows past M
// and columns past N.
func wgStore(k *ptx.Kernel, acc ptx.Vec, y, bm, bn, wgroup, m, n ptx.Reg) {
	lane := k.Special(ptx.LaneID)
	warp := k.Op("and", ptx.B32, k.Shift("shr", ptx.U32, k.Special(ptx.TidX), ptx.Imm(5)), ptx.Imm(3))
	g := k.Shift("shr", ptx.U32, lane, ptx.Imm(2))
	q := k.Op("and", ptx.B32, lane, ptx.Imm(3))
	nBase := k.Op("add", ptx.U32, bn, k.Op("add", ptx.U32, k.Shift("shl", ptx.B32, wgroup, ptx.Imm(6)), k.Op("mad.lo", ptx.U32, warp, ptx.Imm(16), g)))
	mBase := k.Op("add", ptx.U32, bm, k.Shift("shl", ptx.B32, q, ptx.Imm(1)))
	var nOK [2]ptx.Reg
	var nCol [2]ptx.Reg
	for h := range nOK {
		nCol[h] = k.Op("add", ptx.U32, nBase, ptx.Imm(8*h))
		nOK[h] = k.Setp("lt", ptx.U32, nCol[h], n)
	}
	for i, r := range acc {
		h := (i >> 1) & 1
		row := k.Op("add", ptx.U32, mBase, ptx.Imm(8*(i/4)+i&1))
		k.If(k.SetpAnd("lt", ptx.U32, row, m, nOK[h]), func() {
			k.St("global", ptx.F32, ptx.Addr{Base: index(k, y, k.Op("mad.lo", ptx.U32, row, n, nCol[h]), 4)}, r)
		})
	}
}

// NewGemmWGFor picks the rows per block and the split of K for an
// [m, n] result of reduction length k on sms multiprocessors: 256 rows
// (half the W decodes per product, one block per SM) where that still
// gives every SM at least one block, or where M is over one 128-row tile
// and the 128-row tiles are under a wave anyway (the model puts 256 rows
// ahead there: M = 256 and 512 at 4096²); else 128 (two blocks per SM,
// twice the blocks). The split is WGSplitsFor's.
func NewGemmWGFor(m, n, k, sms, blockSize int, doubleQuant bool) (*GemmWG, error) {
	g, err := NewGemmWG(blockSize, doubleQuant)
	if err != nil {
		return nil, err
	}
	if sms > 0 && (m > 128 || ceilDiv(n, wgBN)*ceilDiv(m, 256) >= sms) {
		g.Rows = 256
	}
	g.Splits = WGSplitsFor(m, n, k, sms, g.Rows)
	return g, nil
}

// WGSplitsFor picks the split of K for GemmWG with rows x rows per block
// (0: 128) as TCSplitsFor does, in 128-row tile units: a 256-row block
// issues the wgmmas of two 128-row ones, so it counts as two. Where the
// tile holds at most 64 x rows a step waits on its round trip more than
// on issue (the model binds M ≤ 64 on latency, M = 128 on issue), so the
// two blocks an SM holds at 128 rows overlap: twice the slots.
func WGSplitsFor(m, n, k, sms, rows int) int {
	if sms <= 0 || m <= 0 || n <= 0 || k <= 0 {
		return 1
	}
	units, slots := 1, sms
	if rows == 256 {
		units = 2
	} else if m <= 64 {
		slots = 2 * sms
	}
	return splitsFor(ceilDiv(m, max(rows, 128))*ceilDiv(n, wgBN)*units, ceilDiv(k, wgBK), slots)
}
