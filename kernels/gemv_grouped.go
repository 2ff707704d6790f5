package kernels

import (
	"github.com/nf4go/nf4/kernels/ptx"
)

// The grouped gemv (gemvConfigs' grouped, for the larger batches) splits
// each warp into gemvGroups groups of 8 lanes: group g takes the block's
// rows g, g+4, …, lane q of a group the chunk 8·step+q of each of them, so
// the warp's 8-chunk step (256 weights) covers all the block's rows. The
// groups read the same x quads at the same time: a warp's x load is 8
// distinct 16-byte quads (rotated by q, conflict-free) broadcast to 4
// lanes each, one wavefront where lane-distinct chunks take four, and a
// block of 4·R rows reads x once where 4 blocks of R rows would read it 4
// times. The code loads stay coalesced: each group reads 128 contiguous
// bytes of its row.
const (
	gemvGroups     = 4
	gemvGroupLanes = 32 / gemvGroups
)

// laneRows is the rows a lane carries: all the block's rows, or, grouped,
// the group's share of them.
func (g *Gemv) laneRows() int {
	if gemvConfigs[g.M].grouped {
		return ceilDiv(g.rows(), gemvGroups)
	}
	return g.rows()
}

func (g *Gemv) buildGrouped(_ *ptx.Module, cb ptx.Sym) *ptx.Kernel {
	cfg := gemvConfigs[g.M]
	rows := g.rows()
	laneRows := g.laneRows()
	sums := laneRows * g.M // running sums per lane: index r·M + m
	k := ptx.NewKernel(g.Name())
	k.MaxThreads(gemvThreads)
	if !cfg.uncapped {
		k.MaxRegs(cfg.regs)
	}
	pX := k.Param("x")
	pCodes := k.Param("codes")
	sp := declareScales(k, g.DoubleQuant)
	pY := k.Param("y")
	pN := k.Param("n")
	pK := k.Param("k")
	sPartial := k.Shared("partial", 16, gemvGroupedSharedBytes)

	x := k.LoadParam(pX)
	codes := k.LoadParam(pCodes)
	sc := sp.load(k)
	y := k.LoadParam(pY)
	n := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pN))
	kk := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pK))
	lut := laneLUT(k, cb)

	tid := k.Special(ptx.TidX)
	lane := k.Special(ptx.LaneID)
	warp := k.Shift("shr", ptx.U32, tid, ptx.Imm(5))
	group := k.Shift("shr", ptx.U32, lane, ptx.Imm(3))
	q := k.Op("and", ptx.B32, lane, ptx.Imm(gemvGroupLanes-1))
	rowBase := k.Op("mul.lo", ptx.U32, k.Special(ptx.CtaidX), ptx.Imm(rows))

	chunks := k.Shift("shr", ptx.U32, kk, ptx.Imm(5)) // 32 weights per chunk
	last := k.Op("sub", ptx.U32, chunks, ptx.Imm(1))
	steps := k.Shift("shr", ptx.U32, k.Op("add", ptx.U32, chunks, ptx.Imm(gemvGroupLanes-1)), ptx.Imm(3))
	blocksPerRow := k.Shift("shr", ptx.U32, kk, ptx.Imm(log2(g.BlockSize)))
	sc.count = k.Op("mul.lo", ptx.U32, n, blocksPerRow)
	chunkShift := ptx.Imm(log2(g.BlockSize) - 5)
	// Rows past n read row n-1 and are not stored.
	lastRow := k.Op("sub", ptx.U32, n, ptx.Imm(1))
	groupBase := k.Op("add", ptx.U32, rowBase, group)
	rowChunk := make([]ptx.Reg, laneRows)
	rowBlock := make([]ptx.Reg, laneRows)
	for r := range laneRows {
		row := k.Op("min", ptx.U32, k.Op("add", ptx.U32, groupBase, ptx.Imm(gemvGroups*r)), lastRow)
		rowChunk[r] = k.Op("mul.lo", ptx.U32, row, chunks)
		rowBlock[r] = k.Op("mul.lo", ptx.U32, row, blocksPerRow)
	}
	rot := newQuadRotation(k, lane) // by lane mod 8 = q
	// Row m of x as a 64-bit base, so each x load's address is one wide
	// multiply-add of the quad's element index within the row.
	xBase := make([]ptx.Reg, g.M)
	for m := range xBase {
		xBase[m] = x
		if m > 0 {
			xBase[m] = index(k, xBase[m-1], kk, 4)
		}
	}

	acc := make([]ptx.Reg, sums)
	for i := range acc {
		acc[i] = k.Mov(ptx.F32, ptx.F32Imm(0))
	}
	k.ForWarp(warp, steps, ptx.Imm(gemvWarps), func(step ptx.Reg) {
		c := k.Op("mad.lo", ptx.U32, step, ptx.Imm(gemvGroupLanes), q)
		active := k.Setp("lt", ptx.U32, c, chunks)
		c = k.Op("min", ptx.U32, c, last)
		words := make([]ptx.Vec, laneRows)
		scale := make([]ptx.Reg, laneRows)
		for r := range laneRows {
			words[r] = k.LdV("global.nc.L1::no_allocate", ptx.U32, 4, ptx.Addr{Base: index(k, codes, k.Op("add", ptx.U32, rowChunk[r], c), 16)})
			s := sc.at(k, k.Op("add", ptx.U32, rowBlock[r], k.Shift("shr", ptx.U32, c, chunkShift)))
			scale[r] = k.Selp(ptx.F32, s, ptx.F32Imm(0), active)
		}
		chunkStart := k.Shift("shl", ptx.B32, c, ptx.Imm(5))
		rotated := make([][4]ptx.Reg, laneRows)
		for r := range laneRows {
			rotated[r] = rot.apply(k, words[r])
		}
		decodeChunk(k, lut, nil, rotated, scale, acc, g.M, cfg.prescale, func(j int) []ptx.Vec {
			quad := k.Op("add", ptx.U32, chunkStart, rot.xOffset[j])
			xv := make([]ptx.Vec, g.M)
			for m := range xv {
				xv[m] = k.LdV("global.nc", ptx.F32, 4, ptx.Addr{Base: index(k, xBase[m], quad, 4)})
			}
			return xv
		})
	})

	// The group's 8 lanes add their sums (a transposed butterfly: lane q
	// ends with values q·per … q·per+per−1 of the padded sums); each group
	// stores its share, and the block adds its warps' shares.
	mine, padded := groupSums(k, lane, acc)
	per := padded / gemvGroupLanes
	partial := k.SharedAddr(sPartial)
	slot := k.Op("mad.lo", ptx.U32, k.Op("mad.lo", ptx.U32, warp, ptx.Imm(gemvGroups), group), ptx.Imm(padded), k.Op("mul.lo", ptx.U32, q, ptx.Imm(per)))
	at := k.Op("mad.lo", ptx.U32, slot, ptx.Imm(4), partial)
	for j, v := range mine {
		k.St("shared", ptx.F32, ptx.Addr{Base: at, Offset: int64(4 * j)}, v)
	}
	k.BarSync()
	k.If(k.Setp("lt", ptx.U32, tid, ptx.Imm(rows*g.M)), func() {
		rb := k.Op("div", ptx.U32, tid, ptx.Imm(g.M))
		m := k.Op("rem", ptx.U32, tid, ptx.Imm(g.M))
		row := k.Op("add", ptx.U32, rowBase, rb)
		k.If(k.Setp("lt", ptx.U32, row, n), func() {
			// Row rb is group rb mod 4's row rb ÷ 4: value (rb÷4)·M + m.
			gr := k.Op("and", ptx.B32, rb, ptx.Imm(gemvGroups-1))
			i := k.Op("mad.lo", ptx.U32, k.Shift("shr", ptx.U32, rb, ptx.Imm(2)), ptx.Imm(g.M), m)
			idx := k.Op("mad.lo", ptx.U32, gr, ptx.Imm(padded), i)
			addr := k.Op("mad.lo", ptx.U32, idx, ptx.Imm(4), partial)
			var total ptx.Reg
			for w := range gemvWarps {
				v := k.Ld("shared", ptx.F32, ptx.Addr{Base: addr, Offset: int64(4 * gemvGroups * padded * w)})
				if w == 0 {
					total = v
					continue
				}
				k.OpTo(total, "add.rn", ptx.F32, total, v)
			}
			yi := k.Op("mad.lo", ptx.U32, n, m, row)
			k.St("global", ptx.F32, ptx.Addr{Base: index(k, y, yi, 4)}, total)
		})
	})
	return k
}

// groupSums adds vals (at most gemvSums) across the 8 lanes of each lane
// group, transposed: each of 3 rounds halves the values a lane carries,
// keeping one half and adding its partner's copy of it. vals are padded
// with zeros to padded (a power of two, at least 8); lane q of a group
// ends with the group totals of values q·padded/8 … (q+1)·padded/8−1.
func groupSums(k *ptx.Kernel, lane ptx.Reg, vals []ptx.Reg) (mine []ptx.Reg, padded int) {
	padded = gemvGroupLanes
	for padded < len(vals) {
		padded *= 2
	}
	cur := append([]ptx.Reg(nil), vals...)
	for len(cur) < padded {
		cur = append(cur, k.Mov(ptx.F32, ptx.F32Imm(0)))
	}
	for off := gemvGroupLanes / 2; off >= 1; off /= 2 {
		h := len(cur) / 2
		upper := k.Setp("ne", ptx.U32, k.Op("and", ptx.B32, lane, ptx.Imm(off)), ptx.Imm(0))
		next := make([]ptx.Reg, h)
		for i := range next {
			keep := k.Selp(ptx.F32, cur[i+h], cur[i], upper)
			send := k.Selp(ptx.F32, cur[i], cur[i+h], upper)
			next[i] = k.Op("add.rn", ptx.F32, keep, k.Shfl("bfly", send, ptx.Imm(off), 31))
		}
		cur = next
	}
	return cur, padded
}
