package kernels

import (
	"fmt"

	"github.com/nf4go/nf4/kernels/ptx"
)

// Split-K for the tensor-core GEMMs: when the 128×128 output tiles are
// too few to fill the device (M of a few sequences: 32 tiles of a 4096-wide
// result against 132 SMs), grid.z splits the reduction (K forward, N
// backward) into %nctaid.z ranges of whole 64-deep steps. Each block writes
// its partial tile, as float32 [M, cols], into plane z of the workspace;
// the last block of a tile to arrive (an atomic counter per tile) adds the
// planes in the order z = 0, 1, … (so the result does not depend on which
// block came last), zeroes them, stores the sum and resets the counter:
// the workspace is zero again after every launch.
//
// Workspace: S·M·cols float32 partial sums, then one uint32 counter per
// output tile (grid.x·grid.y), S = grid.z.

// MaxTCSplits is the most ways a tensor-core GEMM splits its reduction.
const MaxTCSplits = 16

// tcMinSplitSteps is the fewest 64-deep steps a split is given: below it
// the prologue and the reduction cost more than the split saves.
const tcMinSplitSteps = 4

// splitTileCols is the width of the output tile splitReduce sums: 128
// columns for both GEMMs.
const splitTileCols = 128

// tcSplitsFor is the split of steps reduction steps into at most want
// ranges with none empty: ⌈steps ÷ ⌈steps ÷ want⌉⌉.
func tcSplitsFor(steps, want int) int {
	if want <= 1 || steps <= 1 {
		return 1
	}
	per := ceilDiv(steps, want)
	return ceilDiv(steps, per)
}

// TCSplitsFor picks the split of a tensor-core GEMM's reduction for m
// rows, cols output columns and reduce reduction length on sms
// multiprocessors (0: unknown, no split): 1 when the output tiles give
// every SM one, else the split that minimizes the busiest SM's steps,
// ⌈tiles·S ÷ sms⌉·⌈steps ÷ S⌉ (an SM's issue and shared-memory bandwidth
// bound these kernels, so two blocks on one SM take as long as one block
// of both their steps), plus one step per split for the reduction, each
// split at least tcMinSplitSteps steps deep, ties to the smaller split;
// and a split only where it saves a tenth (the model puts a split of 112
// tiles that saves 1 step in 65 a few percent behind none).
func TCSplitsFor(m, cols, reduce, sms int) int {
	if sms <= 0 || m <= 0 || cols <= 0 || reduce <= 0 {
		return 1
	}
	return splitsFor(ceilDiv(m, tcBM)*ceilDiv(cols, tcBN), ceilDiv(reduce, tcBK), sms)
}

// splitsFor is TCSplitsFor's choice for tiles output tiles of steps
// reduction steps on slots concurrent blocks' worth of SMs.
func splitsFor(tiles, steps, slots int) int {
	if tiles >= slots {
		return 1
	}
	best, bestCost := 1, -1
	for s := 1; s <= MaxTCSplits && ceilDiv(steps, s) >= tcMinSplitSteps; s++ {
		if tcSplitsFor(steps, s) != s {
			continue
		}
		cost := ceilDiv(tiles*s, slots)*ceilDiv(steps, s) + s
		if bestCost < 0 || cost < bestCost {
			best, bestCost = s, cost
		}
	}
	if unsplit := steps + 1; 10*bestCost > 9*unsplit {
		return 1
	}
	return best
}

// NewGemmTCFor is NewGemmTC with the split TCSplitsFor picks for an
// [m, n] result of reduction length k on sms multiprocessors.
func NewGemmTCFor(m, n, k, sms, blockSize int, doubleQuant bool) (*GemmTC, error) {
	g, err := NewGemmTC(blockSize, doubleQuant)
	if err != nil {
		return nil, err
	}
	g.Splits = TCSplitsFor(m, n, k, sms)
	return g, nil
}

// NewGemmTCTransposedFor is NewGemmTCTransposed with the split
// TCSplitsFor picks for an [m, k] result of reduction length n.
func NewGemmTCTransposedFor(m, n, k, sms, blockSize int, doubleQuant bool) (*GemmTC, error) {
	g, err := NewGemmTCTransposed(blockSize, doubleQuant)
	if err != nil {
		return nil, err
	}
	g.Splits = TCSplitsFor(m, k, n, sms)
	return g, nil
}

// split reports whether the kernel is the split-K variant.
func (g *GemmTC) split() bool { return g.Splits > 1 }

// splitLaunch sets the grid's z and the workspace of the split variant
// for s: cols output columns, reduce the reduction length.
func (g *GemmTC) splitLaunch(l *Launch, s Shape, cols, reduce int) error {
	if g.Splits > MaxTCSplits {
		return fmt.Errorf("kernels: gemm_tc: %d splits, at most %d", g.Splits, MaxTCSplits)
	}
	return setSplitLaunch(l, g.Splits, ceilDiv(reduce, tcBK), s.M, cols)
}

// setSplitLaunch sets l's grid.z to the split of steps into at most
// splits ranges and its workspace: a plane of m·cols float32 partials per
// range, then a counter per output tile (l.Grid's x·y).
func setSplitLaunch(l *Launch, splits, steps, m, cols int) error {
	z := tcSplitsFor(steps, splits)
	elems := int64(z)*int64(m)*int64(cols) + int64(l.Grid[0])*int64(l.Grid[1])
	if elems >= 1<<32 {
		return fmt.Errorf("%w: split-K workspace of %d values", errShape, elems)
	}
	l.Grid[2] = z
	l.Workspace = int(4 * elems)
	return nil
}

// splitRange is block z's range [first, end) of steps: ⌈steps ÷ S⌉ each.
func splitRange(k *ptx.Kernel, steps ptx.Reg) (first, end ptx.Reg) {
	nz := k.Special(ptx.NctaidZ)
	per := k.Op("div", ptx.U32, k.Op("add", ptx.U32, steps, k.Op("sub", ptx.U32, nz, ptx.Imm(1))), nz)
	first = k.Op("mul.lo", ptx.U32, k.Special(ptx.CtaidZ), per)
	end = k.Op("min", ptx.U32, k.Op("add", ptx.U32, first, per), steps)
	return first, end
}

// tcSplitStore is the split variant's epilogue: the block's partial tile
// into its plane of ws, then splitReduce over the 128×128 tile. flag is
// shared scratch (the tiles are free by now).
func tcSplitStore(k *ptx.Kernel, acc *[4][4]ptx.Vec, out, ws, bm, bc, wm, wn, m, cols, flag ptx.Reg) {
	plane := k.Op("mul.lo", ptx.U32, m, cols)
	tcStore(k, acc, index(k, ws, k.Op("mul.lo", ptx.U32, k.Special(ptx.CtaidZ), plane), 4), bm, bc, wm, wn, m, cols)
	splitReduce(k, out, ws, plane, bm, bc, m, cols, flag, tcBM, tcThreads)
}

// splitReduce ends a split variant's epilogue once the block has stored
// its partial tile into its plane of ws (plane = m·cols values apart): in
// the tile's last block to arrive, the sum of the planes into out
// (row-major [m, cols]; the tile of tileRows rows × 128 columns at bm, bc),
// coalesced over the tile by the block's threads. flag is shared scratch
// that tells the block's threads it came last.
func splitReduce(k *ptx.Kernel, out, ws, plane, bm, bc, m, cols, flag ptx.Reg, tileRows, threads int) {
	nz := k.Special(ptx.NctaidZ)
	// Release: every thread's partials are visible device-wide before
	// thread 0 counts the block in.
	k.FenceGPU()
	k.BarSync()
	tid := k.Special(ptx.TidX)
	tile := k.Op("mad.lo", ptx.U32, k.Special(ptx.CtaidY), k.Special(ptx.NctaidX), k.Special(ptx.CtaidX))
	counter := index(k, ws, k.Op("mad.lo", ptx.U32, nz, plane, tile), 4)
	k.If(k.Setp("eq", ptx.U32, tid, ptx.Imm(0)), func() {
		old := k.Atom("add", ptx.U32, ptx.Addr{Base: counter}, ptx.Imm(1))
		last := k.Setp("eq", ptx.U32, old, k.Op("sub", ptx.U32, nz, ptx.Imm(1)))
		k.St("shared", ptx.U32, ptx.Addr{Base: flag}, k.Selp(ptx.U32, ptx.Imm(1), ptx.Imm(0), last))
		// Every block of the tile has arrived: the next launch finds zero.
		k.If(last, func() { k.St("global", ptx.U32, ptx.Addr{Base: counter}, ptx.Imm(0)) })
	})
	k.BarSync()
	last := k.Setp("ne", ptx.U32, k.Ld("shared", ptx.U32, ptx.Addr{Base: flag}), ptx.Imm(0))
	k.If(last, func() {
		k.FenceGPU() // acquire: the other blocks' partials
		rows := k.Op("min", ptx.U32, k.Op("sub", ptx.U32, m, bm), ptx.Imm(tileRows))
		width := k.Op("min", ptx.U32, k.Op("sub", ptx.U32, cols, bc), ptx.Imm(splitTileCols))
		k.For(tid, k.Shift("shl", ptx.B32, rows, ptx.Imm(log2(splitTileCols))), ptx.Imm(threads), func(e ptx.Reg) {
			c := k.Op("and", ptx.B32, e, ptx.Imm(splitTileCols-1))
			k.If(k.Setp("lt", ptx.U32, c, width), func() {
				r := k.Op("add", ptx.U32, bm, k.Shift("shr", ptx.U32, e, ptx.Imm(log2(splitTileCols))))
				off := k.Op("mad.lo", ptx.U32, r, cols, k.Op("add", ptx.U32, bc, c))
				sum := k.Mov(ptx.F32, ptx.F32Imm(0))
				zero := k.Mov(ptx.F32, ptx.F32Imm(0))
				k.For(ptx.Imm(0), nz, ptx.Imm(1), func(z ptx.Reg) {
					a := index(k, ws, k.Op("mad.lo", ptx.U32, z, plane, off), 4)
					v := k.Ld("global.cg", ptx.F32, ptx.Addr{Base: a})
					k.OpTo(sum, "add.rn", ptx.F32, sum, v)
					k.St("global", ptx.F32, ptx.Addr{Base: a}, zero)
				})
				k.St("global", ptx.F32, ptx.Addr{Base: index(k, out, off, 4)}, sum)
			})
		})
	})
}
