package kernels

import (
	"fmt"

	"github.com/nf4go/nf4/kernels/ptx"
)

// GemvTC is the small-batch product y[m,n] = Σ_k x[m,k]·W[n,k] for
// m < M (M = 2…MaxGemvTCM) on tensor cores: mma.sync m16n8k16 with bf16
// inputs and float32 accumulators, y^T = W·x^T with 16 rows of W as the A
// operand and the batch as the columns of ⌈M ÷ 8⌉ B tiles of 8 (batch
// columns past M read row M−1 and are never stored): each decoded W
// fragment serves every B tile. x comes as bf16, rounded once by the caller: every
// block reads all of it, and bf16 halves those bytes through L2 and L1.
//
// A block owns Tiles tiles of 16 consecutive output rows and its warps
// split K in units of 128 weights. In a unit, lane (g, t) (g = lane ÷ 4,
// t = lane mod 4) reads 16 contiguous bytes of codes, the weights
// 32t … 32t+31 of the unit, of rows g and g+8 of each tile: the k order
// inside an mma is free as long as A and B agree, so mma i takes from lane
// t the quad (i + 2t) mod 8 of its 32 weights, and B takes the same quad of
// x. The rotation by 2t spreads the lanes' 16-byte x loads (two quads each)
// over the banks; the lane's code words turn by t to match (two selp
// rounds).
//
// A code byte (two adjacent weights) decodes with one shared-memory load
// from a 256-entry table of bf16 pairs, held once per lane (bank = lane,
// so no lookup conflicts): the pair is an A register as it stands. Block
// scales stay out of the mma: a unit spans 128 ÷ min(B, 128) blocks, and
// for each the mma runs with x masked to the lanes of that block, into a
// temporary that is scaled into the row's sums in float32. x is read once
// per unit for all the tiles.
//
// Precision is bf16 (about 3 significant digits) with float32 accumulation.
//
// Params: x_bf16, codes, scales (absmax, or absmax_q, nested_map,
// nested_absmax, nested_offset), y, n, k.
type GemvTC struct {
	M           int
	BlockSize   int
	DoubleQuant bool
	Quant       QuantType // the code table (NF4 unless set; see ForQuant)
	// Tiles is the 16-row tiles a block computes: 0 for the default
	// (gemvTCTiles), or 1…GemvTCMaxTiles(BlockSize) (see GemvTCTilesFor).
	Tiles int
}

const (
	gemvTCWarps   = 4
	gemvTCThreads = 32 * gemvTCWarps
	gemvTCUnit    = 128 // weights per row of one round of mmas
	gemvTCTrip    = 2   // units per trip of a warp
	// gemvTCTiles is the default tiles per block.
	gemvTCTiles = 2
	// MaxGemvTCTiles is the most tiles a block may own (see
	// GemvTCMaxTiles).
	MaxGemvTCTiles = 4
	// MinGemvTCM is the smallest batch the tensor-core gemv takes: one
	// row is memory-bound on the float32 gemv already.
	MinGemvTCM = 2
	// MaxGemvTCM is the largest: two B tiles of 8 batch rows. Past it
	// every block's x (read from L2 once per 16·Tiles rows of W, and
	// fewer tiles fit the registers) costs more than the tensor-core
	// GEMM's shared-memory staging.
	MaxGemvTCM = 16
	// gemvTCTable is the decode table: 256 bf16 pairs × 32 lanes.
	gemvTCTable = 256 * 32 * 4
)

// NewGemvTC checks the configuration.
func NewGemvTC(m, blockSize int, doubleQuant bool) (*GemvTC, error) {
	if m < MinGemvTCM || m > MaxGemvTCM {
		return nil, fmt.Errorf("kernels: gemv_tc: M=%d outside %d..%d", m, MinGemvTCM, MaxGemvTCM)
	}
	if err := validBlockSize(blockSize); err != nil {
		return nil, err
	}
	return &GemvTC{M: m, BlockSize: blockSize, DoubleQuant: doubleQuant}, nil
}

// GemvTCMaxTiles is the most tiles a block of block size b may own at
// M ≤ 8: at b = 32 a unit has four scales per row, which with 4 tiles
// would not fit the registers.
func GemvTCMaxTiles(b int) int {
	if b < 64 {
		return 2
	}
	return MaxGemvTCTiles
}

// GemvTCMaxTilesM is GemvTCMaxTiles for a batch of m: a second B tile
// takes x and sums for every tile, so at most 2 tiles fit, and only 1 at
// block sizes whose scales take more registers (four a unit at 32, the
// per-trip clamping past 128).
func GemvTCMaxTilesM(m, b int) int {
	switch {
	case m <= 8:
		return GemvTCMaxTiles(b)
	case b >= 64 && b <= 128:
		return 2
	}
	return 1
}

// GemvTCTilesFor picks the tiles per block for n output rows on sms
// multiprocessors (0: unknown, the default) at block size b: the most
// tiles (each unit's x loads serve them all) that still give every SM a
// block, counting the busiest SM's ⌈blocks ÷ sms⌉ blocks of tiles + 1
// each (x and the final sums cost a block about a tile more).
func GemvTCTilesFor(n, sms, b int) int { return gemvTCTilesFor(n, sms, GemvTCMaxTiles(b)) }

func gemvTCTilesFor(n, sms, most int) int {
	if sms <= 0 || n <= 0 {
		return min(gemvTCTiles, most)
	}
	best, bestCost := 1, -1
	for t := 1; t <= most; t++ {
		busiest := ceilDiv(ceilDiv(n, 16*t), sms)
		if cost := busiest * (t + 1); bestCost < 0 || cost <= bestCost {
			best, bestCost = t, cost
		}
	}
	return best
}

// NewGemvTCFor is NewGemvTC with the tiles per block GemvTCTilesFor picks
// for n output rows on sms multiprocessors.
func NewGemvTCFor(m, n, sms, blockSize int, doubleQuant bool) (*GemvTC, error) {
	g, err := NewGemvTC(m, blockSize, doubleQuant)
	if err != nil {
		return nil, err
	}
	if t := gemvTCTilesFor(n, sms, GemvTCMaxTilesM(m, blockSize)); t != gemvTCTiles {
		g.Tiles = t
	}
	return g, nil
}

func (g *GemvTC) tiles() int {
	if g.Tiles != 0 {
		return g.Tiles
	}
	return min(gemvTCTiles, GemvTCMaxTilesM(g.M, g.BlockSize))
}

// bTiles is the number of 8-column B tiles the batch takes.
func (g *GemvTC) bTiles() int { return ceilDiv(g.M, 8) }

func (g *GemvTC) check() error {
	if _, err := NewGemvTC(g.M, g.BlockSize, g.DoubleQuant); err != nil {
		return err
	}
	if most := GemvTCMaxTilesM(g.M, g.BlockSize); g.Tiles < 0 || g.Tiles > most {
		return fmt.Errorf("kernels: gemv_tc: %d tiles per block outside 1..%d at block size %d", g.Tiles, most, g.BlockSize)
	}
	return nil
}

// Name is nf4_gemv_tc_m<M>[_t<tiles>]_b<B>[_dq][_fp4], the tiles named
// where they are not the default.
func (g *GemvTC) Name() string {
	t := ""
	if g.Tiles != 0 && g.Tiles != min(gemvTCTiles, GemvTCMaxTilesM(g.M, g.BlockSize)) {
		t = fmt.Sprintf("_t%d", g.Tiles)
	}
	return fmt.Sprintf("nf4_gemv_tc_m%d%s_b%d%s%s", g.M, t, g.BlockSize, dqSuffix(g.DoubleQuant), g.Quant.suffix())
}

// Params lists the launch arguments in order.
func (g *GemvTC) Params() []string {
	p := append([]string{"x_bf16", "codes"}, scaleParamNames(g.DoubleQuant)...)
	return append(p, "y", "n", "k")
}

// MinSM is 80: bf16 mma.sync is an Ampere feature.
func (g *GemvTC) MinSM() int { return 80 }

// RegBudget bounds registers per thread: at block size 32 the four
// scales and masked copies of x a unit takes need more, and so does a
// second B tile.
func (g *GemvTC) RegBudget() int {
	if g.BlockSize < 64 || g.M > 8 {
		return 200
	}
	return 168
}

// Launch runs 4 warps per block over the kernel's tiles; Shape.M must
// equal g.M.
func (g *GemvTC) Launch(s Shape) (Launch, error) {
	if err := checkShape(s, g.BlockSize, true); err != nil {
		return Launch{}, err
	}
	if s.M != g.M {
		return Launch{}, fmt.Errorf("%w: M=%d, kernel built for M=%d", errShape, s.M, g.M)
	}
	if err := g.check(); err != nil {
		return Launch{}, err
	}
	return Launch{Grid: [3]int{ceilDiv(s.N, 16*g.tiles()), 1, 1}, Block: [3]int{gemvTCThreads, 1, 1}, SharedBytes: g.sharedBytes()}, nil
}

// sharedBytes is the decode table and every warp's tile sums.
func (g *GemvTC) sharedBytes() int { return gemvTCTable + g.partialBytes() }

func (g *GemvTC) partialBytes() int { return gemvTCWarps * g.tiles() * g.bTiles() * 128 * 4 }

// PTX prints the kernel for target t.
func (g *GemvTC) PTX(t ptx.Target) (string, error) {
	if err := g.check(); err != nil {
		return "", err
	}
	return build(t, g.Quant, g.build)
}

func (g *GemvTC) build(_ *ptx.Module, cb ptx.Sym) *ptx.Kernel {
	tiles, bt := g.tiles(), g.bTiles()
	// Blocks per unit: each takes its own masked mma and scale.
	parts := gemvTCUnit / min(g.BlockSize, gemvTCUnit)
	k := ptx.NewKernel(g.Name())
	k.MaxThreads(gemvTCThreads)
	pX := k.Param("x_bf16")
	pCodes := k.Param("codes")
	sp := declareScales(k, g.DoubleQuant)
	pY := k.Param("y")
	pN := k.Param("n")
	pK := k.Param("k")
	sTable := k.Shared("pairs", 16, gemvTCTable)
	sPartial := k.Shared("partial", 16, g.partialBytes())

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
	grp := k.Shift("shr", ptx.U32, lane, ptx.Imm(2))
	tig := k.Op("and", ptx.B32, lane, ptx.Imm(3))

	// The table: entry e (codes e & 15 then e >> 4) as a bf16 pair, at
	// word 32e + lane. Thread t fills 16-byte pieces t, t + 128, …: piece p
	// holds entry p ÷ 8 for lanes 4(p mod 8) … 4(p mod 8)+3.
	table := k.SharedAddr(sTable)
	for i := range gemvTCTable / 16 / gemvTCThreads {
		p := k.Op("add", ptx.U32, tid, ptx.Imm(i*gemvTCThreads))
		e := k.Shift("shr", ptx.U32, p, ptx.Imm(3))
		lo := k.Shfl("idx", lut, e, 31)
		hi := k.Shfl("idx", lut, k.Shift("shr", ptx.U32, e, ptx.Imm(4)), 31)
		v := k.CvtPack(ptx.BF16x2, lo, hi)
		k.StV("shared", ptx.B32, ptx.Addr{Base: k.Op("mad.lo", ptx.U32, p, ptx.Imm(16), table)}, ptx.Vec{v, v, v, v})
	}
	k.BarSync()
	laneTable := k.Op("mad.lo", ptx.U32, lane, ptx.Imm(4), table)

	chunks := k.Shift("shr", ptx.U32, kk, ptx.Imm(5)) // 32 weights per chunk
	lastChunk := k.Op("sub", ptx.U32, chunks, ptx.Imm(1))
	units := k.Shift("shr", ptx.U32, k.Op("add", ptx.U32, kk, ptx.Imm(gemvTCUnit-1)), ptx.Imm(7))
	blocksPerRow := k.Shift("shr", ptx.U32, kk, ptx.Imm(log2(g.BlockSize)))
	lastBlock := k.Op("sub", ptx.U32, blocksPerRow, ptx.Imm(1))
	sc.count = k.Op("mul.lo", ptx.U32, n, blocksPerRow)

	// The lane's rows: g and g+8 of each tile, clamped to n−1 (not stored).
	rowBase := k.Op("mul.lo", ptx.U32, k.Special(ptx.CtaidX), ptx.Imm(16*tiles))
	lastRow := k.Op("sub", ptx.U32, n, ptx.Imm(1))
	nRows := 2 * tiles
	rowChunk := make([]ptx.Reg, nRows)
	rowBlock := make([]ptx.Reg, nRows)
	for r := range nRows {
		local := k.Op("add", ptx.U32, grp, ptx.Imm(16*(r/2)+8*(r%2)))
		row := k.Op("min", ptx.U32, k.Op("add", ptx.U32, rowBase, local), lastRow)
		rowChunk[r] = k.Op("mul.lo", ptx.U32, row, chunks)
		rowBlock[r] = k.Op("mul.lo", ptx.U32, row, blocksPerRow)
	}
	// The lane's batch rows of x (column g of each B tile), clamped to M−1.
	xRow := make([]ptx.Reg, bt)
	for j := range xRow {
		xRow[j] = k.Op("mul.lo", ptx.U32, k.Op("min", ptx.U32, k.Op("add", ptx.U32, grp, ptx.Imm(8*j)), ptx.Imm(g.M-1)), kk)
	}
	// x load j reads the lane's 16-byte piece (j + t) mod 4 (its element
	// offset here), which holds the quads mma 2j and 2j+1 take.
	var xOff [4]ptx.Reg
	for j := range xOff {
		q := k.Op("and", ptx.B32, k.Op("add", ptx.U32, tig, ptx.Imm(j)), ptx.Imm(3))
		xOff[j] = k.Shift("shl", ptx.B32, q, ptx.Imm(3))
	}
	byTwo := k.Setp("ne", ptx.U32, k.Op("and", ptx.B32, tig, ptx.Imm(2)), ptx.Imm(0))
	byOne := k.Setp("ne", ptx.U32, k.Op("and", ptx.B32, tig, ptx.Imm(1)), ptx.Imm(0))
	// The lane's part of a unit: 32 ÷ min(B, 128) lanes' chunks share a block.
	lanePart := k.Shift("shr", ptx.U32, tig, ptx.Imm(log2(4/parts)))
	var inPart [4]ptx.Reg
	for v := range parts {
		inPart[v] = k.Setp("eq", ptx.U32, lanePart, ptx.Imm(v))
	}

	zero := k.Mov(ptx.F32, ptx.F32Imm(0))
	zeroVec := ptx.Vec{zero, zero, zero, zero}
	zeroB := k.Mov(ptx.B32, ptx.Imm(0))
	acc := make([][]ptx.Vec, tiles) // [tile][B tile]
	for i := range acc {
		acc[i] = make([]ptx.Vec, bt)
		for j := range acc[i] {
			acc[i][j] = ptx.Vec{k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0))}
		}
	}

	// A trip takes gemvTCTrip consecutive units, so one vector load per
	// row brings all their scales; all the trip's loads go out first.
	trips := k.Shift("shr", ptx.U32, k.Op("add", ptx.U32, units, ptx.Imm(gemvTCTrip-1)), ptx.Imm(log2(gemvTCTrip)))
	k.ForWarp(warp, trips, ptx.Imm(gemvTCWarps), func(trip ptx.Reg) {
		first := k.Shift("shr", ptx.U32, k.Shift("shl", ptx.B32, trip, ptx.Imm(log2(gemvTCTrip*gemvTCUnit))), ptx.Imm(log2(g.BlockSize)))
		scale := make([][]ptx.Reg, nRows)
		for r := range nRows {
			scale[r] = g.tripScales(k, sc, rowBlock[r], first, blocksPerRow, lastBlock)
		}
		var words [gemvTCTrip][]ptx.Vec
		var active [gemvTCTrip]ptx.Reg
		var xv [gemvTCTrip][][4]ptx.Vec // [unit][B tile][load]
		for p := range gemvTCTrip {
			u := k.Op("mad.lo", ptx.U32, trip, ptx.Imm(gemvTCTrip), ptx.Imm(p))
			c := k.Op("mad.lo", ptx.U32, u, ptx.Imm(4), tig)
			active[p] = k.Setp("lt", ptx.U32, c, chunks)
			c = k.Op("min", ptx.U32, c, lastChunk)
			words[p] = make([]ptx.Vec, nRows)
			for r := range nRows {
				words[p][r] = k.LdV("global.nc.L1::no_allocate", ptx.U32, 4, ptx.Addr{Base: index(k, codes, k.Op("add", ptx.U32, rowChunk[r], c), 16)})
			}
			xv[p] = make([][4]ptx.Vec, bt)
			for b := range xv[p] {
				xBase := k.Op("add", ptx.U32, xRow[b], k.Shift("shl", ptx.B32, c, ptx.Imm(5)))
				for j := range xv[p][b] {
					xv[p][b][j] = k.LdV("global.nc", ptx.B32, 4, ptx.Addr{Base: index(k, x, k.Op("add", ptx.U32, xBase, xOff[j]), 2)})
				}
			}
		}
		for p := range gemvTCTrip {
			// x's bf16 pairs, [mma][b0 b1], masked per part (and to zero
			// past K).
			masked := make([][][8]ptx.Vec, parts) // [part][B tile][mma]
			for v := range parts {
				use := k.Op("and", ptx.Pred, inPart[v], active[p])
				masked[v] = make([][8]ptx.Vec, bt)
				for b := range bt {
					for i := range 8 {
						w := xv[p][b][i/2]
						masked[v][b][i] = ptx.Vec{k.Selp(ptx.B32, w[2*(i%2)], zeroB, use), k.Selp(ptx.B32, w[2*(i%2)+1], zeroB, use)}
					}
				}
			}
			for t := range tiles {
				var pairs [2][16]ptx.Reg // [row g, g+8][byte of the rotated words]
				for h := range 2 {
					w := words[p][2*t+h]
					var r1, r2 [4]ptx.Reg
					for i := range r1 {
						r1[i] = k.Selp(ptx.B32, w[(i+2)%4], w[i], byTwo)
					}
					for i := range r2 {
						r2[i] = k.Selp(ptx.B32, r1[(i+1)%4], r1[i], byOne)
					}
					for b := range 16 {
						idx := k.Prmt(r2[b/4], zeroB, ptx.Imm(0x4440+b%4))
						pairs[h][b] = k.Ld("shared", ptx.B32, ptx.Addr{Base: k.Op("mad.lo", ptx.U32, idx, ptx.Imm(128), laneTable)})
					}
				}
				for v := range parts {
					for b := range bt {
						tmp := ptx.Vec{k.NewReg(ptx.F32), k.NewReg(ptx.F32), k.NewReg(ptx.F32), k.NewReg(ptx.F32)}
						for i := range 8 {
							a := ptx.Vec{pairs[0][2*i], pairs[1][2*i], pairs[0][2*i+1], pairs[1][2*i+1]}
							cin := tmp
							if i == 0 {
								cin = zeroVec
							}
							k.Mma(ptx.MmaBF16, tmp, a, masked[v][b][i], cin)
						}
						// Block (128p + v·min(B, 128)) ÷ B of the trip.
						blk := (gemvTCUnit*p + v*min(g.BlockSize, gemvTCUnit)) >> log2(g.BlockSize)
						for e := range 4 {
							k.OpTo(acc[t][b][e], "fma.rn", ptx.F32, tmp[e], scale[2*t+e/2][blk], acc[t][b][e])
						}
					}
				}
			}
		}
	})

	// Warps store their sums (tile t, B tile b as chunk tb = t·bt + b);
	// thread j of the block then adds the warps' sums of value j (chunk
	// j ÷ 128, lane, element) and stores it.
	partial := k.SharedAddr(sPartial)
	sumChunks := tiles * bt
	for t := range tiles {
		for b := range bt {
			at := k.Op("mad.lo", ptx.U32, k.Op("add", ptx.U32, k.Op("mul.lo", ptx.U32, warp, ptx.Imm(sumChunks*32)), ptx.Imm(32*(t*bt+b))), ptx.Imm(16), partial)
			k.StV("shared", ptx.F32, ptx.Addr{Base: k.Op("mad.lo", ptx.U32, lane, ptx.Imm(16), at)}, acc[t][b])
		}
	}
	k.BarSync()
	for tb := range sumChunks {
		t, b := tb/bt, tb%bt
		j := k.Op("add", ptx.U32, tid, ptx.Imm(128*tb))
		l := k.Shift("shr", ptx.U32, tid, ptx.Imm(2))
		e := k.Op("and", ptx.B32, tid, ptx.Imm(3))
		// C element e of lane l: row g + 8(e ÷ 2), batch column
		// 8b + 2(l mod 4) + e mod 2.
		row := k.Op("add", ptx.U32, k.Op("add", ptx.U32, rowBase, ptx.Imm(16*t)),
			k.Op("add", ptx.U32, k.Shift("shr", ptx.U32, l, ptx.Imm(2)), k.Shift("shl", ptx.B32, k.Shift("shr", ptx.U32, e, ptx.Imm(1)), ptx.Imm(3))))
		m := k.Op("add", ptx.U32, k.Op("add", ptx.U32, k.Shift("shl", ptx.B32, k.Op("and", ptx.B32, l, ptx.Imm(3)), ptx.Imm(1)), k.Op("and", ptx.B32, e, ptx.Imm(1))), ptx.Imm(8*b))
		ok := k.SetpAnd("lt", ptx.U32, row, n, k.Setp("lt", ptx.U32, m, ptx.Imm(g.M)))
		k.If(ok, func() {
			addr := k.Op("mad.lo", ptx.U32, j, ptx.Imm(4), partial)
			total := k.Ld("shared", ptx.F32, ptx.Addr{Base: addr})
			for w := 1; w < gemvTCWarps; w++ {
				v := k.Ld("shared", ptx.F32, ptx.Addr{Base: addr, Offset: int64(w * sumChunks * 128 * 4)})
				k.OpTo(total, "add.rn", ptx.F32, total, v)
			}
			k.St("global", ptx.F32, ptx.Addr{Base: index(k, y, k.Op("mad.lo", ptx.U32, n, m, row), 4)}, total)
		})
	}
	return k
}

// tripScales returns the scales of a trip's blocks first … first+n−1 of
// the row whose first block is rowBlock (n = 2·128 ÷ B, at least 1):
// plain scales with one or two vector loads where the trip's blocks lie in
// the row and the rows' blocks are aligned to the vector (K a multiple of
// B·min(4, n)), else each block clamped to the row's last (a trip past K,
// whose x is masked to zero).
func (g *GemvTC) tripScales(k *ptx.Kernel, sc scales, rowBlock, first, blocksPerRow, lastBlock ptx.Reg) []ptx.Reg {
	nb := max(1, gemvTCTrip*gemvTCUnit/g.BlockSize)
	out := make([]ptx.Reg, nb)
	clamped := func(i int) ptx.Reg {
		return k.Op("add", ptx.U32, rowBlock, k.Op("min", ptx.U32, k.Op("add", ptx.U32, first, ptx.Imm(i)), lastBlock))
	}
	if sc.dq || nb == 1 {
		for i := range out {
			out[i] = sc.at(k, clamped(i))
		}
		return out
	}
	for i := range out {
		out[i] = k.NewReg(ptx.F32)
	}
	// Vector loads need every row's first block aligned to their width.
	aligned := k.Setp("eq", ptx.U32, k.Op("and", ptx.B32, blocksPerRow, ptx.Imm(min(4, nb)-1)), ptx.Imm(0))
	whole := k.SetpAnd("le", ptx.U32, k.Op("add", ptx.U32, first, ptx.Imm(nb)), blocksPerRow, aligned)
	k.IfElse(whole, func() {
		base := index(k, sc.absmax, k.Op("add", ptx.U32, rowBlock, first), 4)
		for i := 0; i < nb; i += 4 {
			w := min(4, nb-i)
			k.LdVTo(ptx.Vec(out[i:i+w]), "global.nc", ptx.F32, ptx.Addr{Base: base, Offset: int64(4 * i)})
		}
	}, func() {
		for i := range out {
			k.LdTo(out[i], "global.nc", ptx.F32, ptx.Addr{Base: index(k, sc.absmax, clamped(i), 4)})
		}
	})
	return out
}
