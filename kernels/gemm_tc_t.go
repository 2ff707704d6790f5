package kernels

import "github.com/nf4go/nf4/kernels/ptx"

// buildTransposed is the backward product dx[m,k] = Σ_n dy[m,n]·W[n,k] on
// the forward kernel's machinery: a 128×128 block of dx (rows of dy,
// columns k of W), 2×4 warps of 64×32, steps of 64 along n. dy is staged
// like x (float32 in registers a step ahead, bf16 in the swizzled tile);
// each step's W slice is 64 rows n × 128 columns k, so every thread copies
// and decodes 32 consecutive codes of one row (one block, one absmax) into a
// [n][k] bf16 tile with 256-byte rows, chunk c of row n at c ^ (n&7), which
// ldmatrix.trans turns into B fragments (pairs along n) without bank
// conflicts. N need not be a multiple of anything: dy columns and W rows
// past N are zeros. Columns past K read a clamped column and are never
// stored.
func (g *GemmTC) buildTransposed(_ *ptx.Module, _ ptx.Sym) *ptx.Kernel {
	const wRow = 2 * tcBN // bytes of one bf16 W row: sixteen chunks
	k := ptx.NewKernel(g.Name())
	k.MaxThreads(tcThreads)
	pDy, pCodes := k.Param("dy"), k.Param("codes")
	sp := declareScales(k, g.DoubleQuant)
	pDx := k.Param("dx")
	var pWs ptx.Sym
	if g.split() {
		pWs = k.Param("workspace")
	}
	pM, pN, pK := k.Param("m"), k.Param("n"), k.Param("k")
	sX := k.Shared("tile_dy", 16, tcTile)
	sW := k.Shared("tile_w", 16, tcTile)
	sC := k.Shared("tile_codes", 16, tcCodeStages*tcCodeStage)
	sS := k.Shared("tile_scales", 16, tcCodeStages*tcScaleStage)

	dy, codes := k.LoadParam(pDy), k.LoadParam(pCodes)
	sc := sp.load(k)
	dx := k.LoadParam(pDx)
	m := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pM))
	n := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pN))
	kk := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pK))
	tab := newCodeTable(k, g.Quant)
	xBase, wBase, cBase, sBase := k.SharedAddr(sX), k.SharedAddr(sW), k.SharedAddr(sC), k.SharedAddr(sS)

	tid := k.Special(ptx.TidX)
	lane := k.Special(ptx.LaneID)
	warp := k.Shift("shr", ptx.U32, tid, ptx.Imm(5))
	wm := k.Shift("shr", ptx.U32, warp, ptx.Imm(2))
	wn := k.Op("and", ptx.B32, warp, ptx.Imm(3))
	bk := k.Shift("shl", ptx.B32, k.Special(ptx.CtaidX), ptx.Imm(7)) // first output column (k)
	bm := k.Shift("shl", ptx.B32, k.Special(ptx.CtaidY), ptx.Imm(7))
	mLast := k.Op("sub", ptx.U32, m, ptx.Imm(1))
	nLast := k.Op("sub", ptx.U32, n, ptx.Imm(1))
	halfK := k.Shift("shr", ptx.U32, kk, ptx.Imm(1))
	steps := k.Shift("shr", ptx.U32, k.Op("add", ptx.U32, n, ptx.Imm(tcBK-1)), ptx.Imm(6))
	var start ptx.Operand = ptx.Imm(0)
	if g.split() { // this block's steps: [start, steps)
		start, steps = splitRange(k, steps)
	}
	perRow := k.Shift("shr", ptx.U32, kk, ptx.Imm(log2(g.BlockSize)))
	sc.count = k.Op("mul.lo", ptx.U32, n, perRow)

	// dy: rows may start anywhere (N is arbitrary), so lane l loads the
	// pair of columns 2l, 2l+1 with two scalar loads, in rows warp + 8·r
	// (r < 16); a warp's request is one contiguous row.
	col2 := k.Shift("shl", ptx.B32, lane, ptx.Imm(1))
	var dyRow [tcBM / 8]ptx.Reg // element offsets of the rows
	for r := range dyRow {
		gm := k.Op("min", ptx.U32, k.Op("add", ptx.U32, bm, k.Op("add", ptx.U32, warp, ptx.Imm(8*r))), mLast)
		dyRow[r] = k.Op("mul.lo", ptx.U32, gm, n)
	}
	// Row warp+8r has row&7 = warp; the pair is bytes 4·(l&3) of chunk l>>2.
	dyChunk := k.Op("xor", ptx.B32, k.Shift("shr", ptx.U32, lane, ptx.Imm(2)), k.Op("and", ptx.B32, warp, ptx.Imm(7)))
	dyDst := k.Op("add", ptx.U32, k.Op("mad.lo", ptx.U32, warp, ptx.Imm(tcRow), xBase),
		k.Op("add", ptx.U32, k.Shift("shl", ptx.B32, dyChunk, ptx.Imm(4)), k.Shift("shl", ptx.B32, k.Op("and", ptx.B32, lane, ptx.Imm(3)), ptx.Imm(2))))
	var dyv [len(dyRow)][2]ptx.Reg
	for r := range dyv {
		dyv[r] = [2]ptx.Reg{k.NewReg(ptx.F32), k.NewReg(ptx.F32)}
	}
	loadDy := func(t ptx.Reg) {
		c := k.Op("add", ptx.U32, k.Shift("shl", ptx.B32, t, ptx.Imm(6)), col2)
		c0 := k.Op("min", ptx.U32, c, nLast)
		c1 := k.Op("min", ptx.U32, k.Op("add", ptx.U32, c, ptx.Imm(1)), nLast)
		for r := range dyv {
			k.LdTo(dyv[r][0], "global.nc", ptx.F32, ptx.Addr{Base: index(k, dy, k.Op("add", ptx.U32, dyRow[r], c0), 4)})
			k.LdTo(dyv[r][1], "global.nc", ptx.F32, ptx.Addr{Base: index(k, dy, k.Op("add", ptx.U32, dyRow[r], c1), 4)})
		}
	}
	storeDy := func(t ptx.Reg) {
		c := k.Op("add", ptx.U32, k.Shift("shl", ptx.B32, t, ptx.Imm(6)), col2)
		in0 := k.Setp("lt", ptx.U32, c, n)
		in1 := k.Setp("lt", ptx.U32, k.Op("add", ptx.U32, c, ptx.Imm(1)), n)
		zero := k.Mov(ptx.F32, ptx.F32Imm(0))
		for r := range dyv {
			lo := k.Selp(ptx.F32, dyv[r][0], zero, in0)
			hi := k.Selp(ptx.F32, dyv[r][1], zero, in1)
			k.St("shared", ptx.B32, ptx.Addr{Base: dyDst, Offset: int64(8 * r * tcRow)}, k.CvtPack(ptx.BF16x2, lo, hi))
		}
	}

	// Codes: thread tid owns W row tid>>2 of the step, columns
	// bk + 32·(tid&3)… (clamped into the row).
	nRow := k.Shift("shr", ptx.U32, tid, ptx.Imm(2))
	quarter := k.Op("and", ptx.B32, tid, ptx.Imm(3))
	col := k.Op("min", ptx.U32, k.Op("add", ptx.U32, bk, k.Shift("shl", ptx.B32, quarter, ptx.Imm(5))), k.Op("sub", ptx.U32, kk, ptx.Imm(32)))
	colByte := k.Cvt("", ptx.U64, ptx.U32, k.Shift("shr", ptx.U32, col, ptx.Imm(1)))
	colBlock := k.Shift("shr", ptx.U32, col, ptx.Imm(log2(g.BlockSize)))
	codeOwn := k.Op("add", ptx.U32, cBase, k.Shift("shl", ptx.B32, tid, ptx.Imm(4)))
	scaleOwn := k.Op("add", ptx.U32, sBase, k.Shift("shl", ptx.B32, tid, ptx.Imm(2)))
	rowOf := func(t ptx.Reg) ptx.Reg {
		return k.Op("add", ptx.U32, k.Shift("shl", ptx.B32, t, ptx.Imm(6)), nRow)
	}
	blockOf := func(t ptx.Reg) ptx.Reg {
		return k.Op("mad.lo", ptx.U32, k.Op("min", ptx.U32, rowOf(t), nLast), perRow, colBlock)
	}
	stageOf := func(t ptx.Reg) ptx.Reg { return k.Op("rem", ptx.U32, t, ptx.Imm(tcCodeStages)) }
	copyCodes := func(t ptx.Reg) {
		stage := stageOf(t)
		gn := k.Op("min", ptx.U32, rowOf(t), nLast)
		src := k.Op("add", ptx.U64, index(k, codes, k.Op("mul.lo", ptx.U32, gn, halfK), 1), colByte)
		k.CpAsync(ptx.Addr{Base: k.Op("mad.lo", ptx.U32, stage, ptx.Imm(tcCodeStage), codeOwn)}, ptx.Addr{Base: src}, 16)
		if !sc.dq {
			k.CpAsync(ptx.Addr{Base: k.Op("mad.lo", ptx.U32, stage, ptx.Imm(tcScaleStage), scaleOwn)}, ptx.Addr{Base: index(k, sc.absmax, blockOf(t), 4)}, 4)
		}
	}
	scaleOf := func(t ptx.Reg) ptx.Reg {
		if !sc.dq {
			return k.Ld("shared", ptx.F32, ptx.Addr{Base: k.Op("mad.lo", ptx.U32, stageOf(t), ptx.Imm(tcScaleStage), scaleOwn)})
		}
		return sc.at(k, blockOf(t))
	}
	wChunk := k.Op("xor", ptx.B32, k.Shift("shl", ptx.B32, quarter, ptx.Imm(2)), k.Op("and", ptx.B32, nRow, ptx.Imm(7)))
	wDstRow := k.Op("mad.lo", ptx.U32, nRow, ptx.Imm(wRow), wBase)
	var wDst [4]ptx.Reg
	for w := range wDst {
		wDst[w] = k.Op("add", ptx.U32, wDstRow, k.Shift("shl", ptx.B32, k.Op("xor", ptx.B32, wChunk, ptx.Imm(w)), ptx.Imm(4)))
	}
	decodeW := func(t, s ptx.Reg) {
		inN := k.Setp("lt", ptx.U32, rowOf(t), n)
		tab.decodeToShared(k, k.Op("mad.lo", ptx.U32, stageOf(t), ptx.Imm(tcCodeStage), codeOwn), s, wDst, inN)
	}

	// ldmatrix lanes: A as in the forward kernel; B (.trans, x4 per pair
	// of n8 tiles jp): matrix q is rows n 8·(q&1)… of n8 tile 2·jp + (q>>1).
	quad := k.Shift("shr", ptx.U32, lane, ptx.Imm(3))
	r8 := k.Op("and", ptx.B32, lane, ptx.Imm(7))
	aRow := k.Op("add", ptx.U32, k.Op("mad.lo", ptx.U32, wm, ptx.Imm(64), r8), k.Shift("shl", ptx.B32, k.Op("and", ptx.B32, quad, ptx.Imm(1)), ptx.Imm(3)))
	aRowAddr := k.Op("mad.lo", ptx.U32, aRow, ptx.Imm(tcRow), xBase)
	aHalf := k.Shift("shr", ptx.U32, quad, ptx.Imm(1))
	var aAddr [tcBK / 16]ptx.Reg
	for st := range aAddr {
		ca := k.Op("xor", ptx.B32, k.Op("add", ptx.U32, aHalf, ptx.Imm(2*st)), r8)
		aAddr[st] = k.Op("add", ptx.U32, aRowAddr, k.Shift("shl", ptx.B32, ca, ptx.Imm(4)))
	}
	bRow := k.Op("add", ptx.U32, r8, k.Shift("shl", ptx.B32, k.Op("and", ptx.B32, quad, ptx.Imm(1)), ptx.Imm(3)))
	bRowAddr := k.Op("mad.lo", ptx.U32, bRow, ptx.Imm(wRow), wBase)
	var bAddr [2]ptx.Reg
	for jp := range bAddr {
		c := k.Op("add", ptx.U32, k.Shift("shl", ptx.B32, wn, ptx.Imm(2)), k.Op("add", ptx.U32, aHalf, ptx.Imm(2*jp)))
		bAddr[jp] = k.Op("add", ptx.U32, bRowAddr, k.Shift("shl", ptx.B32, k.Op("xor", ptx.B32, c, r8), ptx.Imm(4)))
	}

	var acc [4][4]ptx.Vec
	for i := range acc {
		for j := range acc[i] {
			acc[i][j] = ptx.Vec{k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0))}
		}
	}

	t0 := k.Mov(ptx.U32, start)
	t1 := k.Op("add", ptx.U32, t0, ptx.Imm(1))
	copyCodes(t0)
	k.CpAsyncCommit()
	k.If(k.Setp("lt", ptx.U32, t1, steps), func() { copyCodes(t1) })
	k.CpAsyncCommit()
	loadDy(t0)
	var s0 ptx.Reg
	if sc.dq {
		s0 = scaleOf(t0)
	}
	k.CpAsyncWait(1)
	if !sc.dq {
		s0 = scaleOf(t0)
	}
	decodeW(t0, s0)
	storeDy(t0)
	k.BarSync()

	// A warp skips its 16-row tiles that lie wholly past M (warp-uniform
	// branches): at M ≤ 64 half the warps have no row of the result, and
	// their ldmatrix traffic would bind the kernel.
	var live [4]ptx.Reg
	for i := range live {
		live[i] = k.Setp("lt", ptx.U32, k.Op("add", ptx.U32, bm, k.Op("mad.lo", ptx.U32, wm, ptx.Imm(64), ptx.Imm(16*i))), m)
	}
	sNext := k.NewReg(ptx.F32)
	k.For(start, steps, ptx.Imm(1), func(t ptx.Reg) {
		t2 := k.Op("add", ptx.U32, t, ptx.Imm(2))
		k.If(k.Setp("lt", ptx.U32, t2, steps), func() { copyCodes(t2) })
		k.CpAsyncCommit()
		next := k.Op("add", ptx.U32, t, ptx.Imm(1))
		hasNext := k.Setp("lt", ptx.U32, next, steps)
		k.If(hasNext, func() {
			loadDy(next)
			if sc.dq {
				k.MovTo(sNext, ptx.F32, scaleOf(next))
			}
		})
		math := func() {
			for st := 0; st < tcBK/16; st++ {
				var bf [4]ptx.Vec
				for jp := 0; jp < 2; jp++ {
					v := k.Ldmatrix(4, true, ptx.Addr{Base: bAddr[jp], Offset: int64(16 * st * wRow)})
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
		k.If(hasNext, func() {
			k.CpAsyncWait(1)
			if !sc.dq {
				k.MovTo(sNext, ptx.F32, scaleOf(next))
			}
			decodeW(next, sNext)
			storeDy(next)
		})
		k.BarSync()
	})

	if g.split() {
		tcSplitStore(k, &acc, dx, k.LoadParam(pWs), bm, bk, wm, wn, m, kk, xBase)
	} else {
		tcStore(k, &acc, dx, bm, bk, wm, wn, m, kk)
	}
	return k
}
