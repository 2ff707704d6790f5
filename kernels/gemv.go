package kernels

import (
	"fmt"

	"github.com/nf4go/nf4/kernels/ptx"
)

// Gemv is the fused dequantize-dot for small batches: y[m,n] = Σ_k x[m,k]·W[n,k]
// for m < M (M = 1…8, fixed per kernel).
//
// A block owns Rows consecutive output rows and its warps split K:
// warp w takes the steps w, w+gemvWarps, … of 1024 weights per row, lane l
// the 32 weights of chunk 32·step+l. Per step a lane reads each row's 16
// bytes of codes with one coalesced 128-bit load that skips L1, and its
// chunk of x once for all the block's rows, so x costs 1/rows of what it
// would if each row re-read it. The lanes read their x quads rotated by
// lane mod 8, which spreads a warp's lane-strided loads over all 32 banks
// (conflict-free); each lane rotates its code words the same way (selp and
// prmt, no memory). A code decodes through the codebook held one entry per
// lane: its nibble shifted down is the shfl.idx source lane, which reads
// only the low 5 bits. At M = 1 the last quad of each chunk decodes by
// byte permutes instead (aluCodebook), which moves an eighth of the
// shuffles off the L1 data path onto the ALUs. Sums are per chunk in float32, scaled once by the
// block's absmax (where gemvConfigs prescale, each decoded value is scaled
// instead, which frees registers for rows); a transposed butterfly leaves
// each lane one row's warp sum, and the block adds its warps' sums through
// shared memory. For M ≥ 5 the warp's lanes form groups that split the
// rows and share each x load (gemv_grouped.go).
//
// Params: x, codes, scales (absmax, or absmax_q, nested_map,
// nested_absmax, nested_offset), y, n, k.
type Gemv struct {
	M           int
	BlockSize   int
	DoubleQuant bool
	Quant       QuantType // the code table (NF4 unless set; see ForQuant)
	// Rows is the output rows a block computes: 0 for gemvConfigs' choice,
	// or one of GemvRowChoices(M) (see GemvRowsFor).
	Rows int
}

const (
	gemvThreads = 128
	gemvWarps   = gemvThreads / 32
	// gemvSums is the most partial sums (rows × batch) a lane carries.
	gemvSums = 32
	// MaxGemvM is the largest batch the gemv kernels take.
	MaxGemvM = 8
)

// gemvConfigs gives, per batch M, the output rows a block computes, the
// register budget, declared to ptxas as the cap (.maxnreg) unless uncapped,
// and whether decoded values are scaled before the multiply-adds. x, read
// once per step, serves all the rows, so more rows cost less x per weight
// (in L1 wavefronts and in L2 traffic: each block reads all of x);
// rows × M running sums (at most gemvSums), the per-chunk sums of an
// unprescaled kernel and the rows' code loads must fit the registers
// without spilling under CUDA 11.8's and 12.4's ptxas alike, for every
// block size, scale kind and code table. Prescaling (one multiply per
// decoded value) frees the per-chunk sums. Rows also set the grid's
// granularity: 16 leave the busiest of 132 SMs 3% more than the mean at
// N = 4096, 12 would leave it 16%; where the default leaves the last wave
// short (N = 11008), GemvRowsFor takes fewer. Uncapped, ptxas aims low for some M and
// spills a few bytes (M = 7 at 12 rows under CUDA 11.8); M = 8 uncapped
// takes up to 220. The choices are the best the performance model found
// (kernels/perf); the large budgets trade occupancy (2 or 3 blocks per SM)
// for rows, each warp keeping all its rows' code loads in flight. Grouped
// (M ≥ 5), a lane carries a quarter of the block's rows: 16 rows are 4 per
// lane, M × 4 running sums and as many per-chunk sums.
var gemvConfigs = [MaxGemvM + 1]struct {
	rows     int
	regs     int  // the budget: the cap, or what ptxas may choose uncapped
	uncapped bool // no .maxnreg
	prescale bool
	grouped  bool // lanes in groups of 8, rows spread over the groups (gemv_grouped.go)
	aluQuad  bool // one quad of each chunk decoded by prmt (aluCodebook)
}{
	1: {rows: 16, regs: 168, aluQuad: true},
	2: {rows: 16, regs: 208},
	3: {rows: 8, regs: 208},
	4: {rows: 8, regs: 208},
	5: {rows: 16, regs: 168, grouped: true},
	6: {rows: 16, regs: 168, grouped: true},
	7: {rows: 16, regs: 200, grouped: true},
	8: {rows: 16, regs: 224, uncapped: true, grouped: true},
}

func gemvRows(m int) int { return gemvConfigs[m].rows }

// rows is the kernel's output rows per block.
func (g *Gemv) rows() int {
	if g.Rows != 0 {
		return g.Rows
	}
	return gemvRows(g.M)
}

// GemvRowChoices is the range of rows per block a gemv for batch m may
// take: gemvConfigs' rows (the most the registers hold) down to three
// quarters of them, which still share each x load over most of the rows.
func GemvRowChoices(m int) (least, most int) {
	if m < 1 || m > MaxGemvM {
		return 0, 0
	}
	most = gemvRows(m)
	return (3*most + 3) / 4, most
}

// GemvRowsFor picks the rows per block for n output rows on a device of
// sms multiprocessors (0: unknown, gemvConfigs' rows): the choice that
// gives the busiest SM the least work, counting ⌈blocks ÷ sms⌉ blocks of
// rows + 1 each (x's loads and the final sums cost each block about one
// row more), and the most rows among equals. 16 rows at N = 11008 give
// the busiest of 132 SMs 6 blocks where the mean is 5.2; 14 rows give
// 5.96. A grouped kernel's block costs its lanes' rows times the groups
// (13 rows cost what 16 do).
func GemvRowsFor(m, n, sms int) int {
	least, most := GemvRowChoices(m)
	if sms <= 0 || n <= 0 || most == 0 {
		return most
	}
	best, bestCost := most, -1
	for r := most; r >= least; r-- {
		busiest := ceilDiv(ceilDiv(n, r), sms)
		// A grouped block works as if it had its lanes' rows × groups.
		work := r
		if gemvConfigs[m].grouped {
			work = gemvGroups * ceilDiv(r, gemvGroups)
		}
		if cost := busiest * (work + 1); bestCost < 0 || cost < bestCost {
			best, bestCost = r, cost
		}
	}
	return best
}

// NewGemvFor is NewGemv with the rows per block GemvRowsFor picks for n
// output rows on sms multiprocessors.
func NewGemvFor(m, n, sms, blockSize int, doubleQuant bool) (*Gemv, error) {
	g, err := NewGemv(m, blockSize, doubleQuant)
	if err != nil {
		return nil, err
	}
	if r := GemvRowsFor(m, n, sms); r != gemvRows(m) {
		g.Rows = r
	}
	return g, nil
}

// NewGemv checks the configuration.
func NewGemv(m, blockSize int, doubleQuant bool) (*Gemv, error) {
	if m < 1 || m > MaxGemvM {
		return nil, fmt.Errorf("kernels: gemv: M=%d outside 1..%d", m, MaxGemvM)
	}
	if err := validBlockSize(blockSize); err != nil {
		return nil, err
	}
	return &Gemv{M: m, BlockSize: blockSize, DoubleQuant: doubleQuant}, nil
}

func (g *Gemv) check() error {
	if _, err := NewGemv(g.M, g.BlockSize, g.DoubleQuant); err != nil {
		return err
	}
	if least, most := GemvRowChoices(g.M); g.Rows != 0 && (g.Rows < least || g.Rows > most) {
		return fmt.Errorf("kernels: gemv: %d rows per block for M=%d outside %d..%d", g.Rows, g.M, least, most)
	}
	return nil
}

// Name is nf4_gemv_m<M>[_r<rows>]_b<B>[_dq][_fp4], the rows named where
// they are not gemvConfigs'.
func (g *Gemv) Name() string {
	r := ""
	if g.Rows != 0 && g.Rows != gemvRows(g.M) {
		r = fmt.Sprintf("_r%d", g.Rows)
	}
	return fmt.Sprintf("nf4_gemv_m%d%s_b%d%s%s", g.M, r, g.BlockSize, dqSuffix(g.DoubleQuant), g.Quant.suffix())
}

// Params lists the launch arguments in order.
func (g *Gemv) Params() []string {
	p := append([]string{"x", "codes"}, scaleParamNames(g.DoubleQuant)...)
	return append(p, "y", "n", "k")
}

// MinSM is 80.
func (g *Gemv) MinSM() int { return 80 }

// RegBudget bounds registers per thread (gemvConfigs).
func (g *Gemv) RegBudget() int { return gemvConfigs[g.M].regs }

// Launch runs 4 warps per block over the kernel's rows; Shape.M must
// equal g.M.
func (g *Gemv) Launch(s Shape) (Launch, error) {
	if err := checkShape(s, g.BlockSize, true); err != nil {
		return Launch{}, err
	}
	if s.M != g.M {
		return Launch{}, fmt.Errorf("%w: M=%d, kernel built for M=%d", errShape, s.M, g.M)
	}
	if err := g.check(); err != nil {
		return Launch{}, err
	}
	return Launch{Grid: [3]int{ceilDiv(s.N, g.rows()), 1, 1}, Block: [3]int{gemvThreads, 1, 1}, SharedBytes: g.sharedBytes()}, nil
}

// gemvSharedBytes holds every warp's row sums for the block's final add;
// grouped, every group's.
const (
	gemvSharedBytes        = gemvWarps * gemvSums * 4
	gemvGroupedSharedBytes = gemvGroups * gemvSharedBytes
)

func (g *Gemv) sharedBytes() int {
	if gemvConfigs[g.M].grouped {
		return gemvGroupedSharedBytes
	}
	return gemvSharedBytes
}

// PTX prints the kernel for target t.
func (g *Gemv) PTX(t ptx.Target) (string, error) {
	if err := g.check(); err != nil {
		return "", err
	}
	if gemvConfigs[g.M].grouped {
		return build(t, g.Quant, g.buildGrouped)
	}
	return build(t, g.Quant, g.build)
}

func (g *Gemv) build(_ *ptx.Module, cb ptx.Sym) *ptx.Kernel {
	cfg := gemvConfigs[g.M]
	rows := g.rows()
	sums := rows * g.M // partial sums per lane: index r·M + m
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
	sPartial := k.Shared("partial", 16, gemvSharedBytes)

	x := k.LoadParam(pX)
	codes := k.LoadParam(pCodes)
	sc := sp.load(k)
	y := k.LoadParam(pY)
	n := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pN))
	kk := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pK))
	lut := laneLUT(k, cb)
	var alu *aluCodebook
	if cfg.aluQuad {
		alu = newALUCodebook(k, lut)
	}

	tid := k.Special(ptx.TidX)
	lane := k.Special(ptx.LaneID)
	warp := k.Shift("shr", ptx.U32, tid, ptx.Imm(5))
	rowBase := k.Op("mul.lo", ptx.U32, k.Special(ptx.CtaidX), ptx.Imm(rows))

	chunks := k.Shift("shr", ptx.U32, kk, ptx.Imm(5)) // 32 weights per chunk
	last := k.Op("sub", ptx.U32, chunks, ptx.Imm(1))
	steps := k.Shift("shr", ptx.U32, k.Op("add", ptx.U32, chunks, ptx.Imm(31)), ptx.Imm(5))
	blocksPerRow := k.Shift("shr", ptx.U32, kk, ptx.Imm(log2(g.BlockSize)))
	sc.count = k.Op("mul.lo", ptx.U32, n, blocksPerRow)
	chunkShift := ptx.Imm(log2(g.BlockSize) - 5)
	// Rows past n (the last block's) read row n-1 and are not stored.
	lastRow := k.Op("sub", ptx.U32, n, ptx.Imm(1))
	rowChunk := make([]ptx.Reg, rows)
	rowBlock := make([]ptx.Reg, rows)
	for r := range rows {
		row := k.Op("min", ptx.U32, k.Op("add", ptx.U32, rowBase, ptx.Imm(r)), lastRow)
		rowChunk[r] = k.Op("mul.lo", ptx.U32, row, chunks)
		rowBlock[r] = k.Op("mul.lo", ptx.U32, row, blocksPerRow)
	}
	rot := newQuadRotation(k, lane)

	acc := make([]ptx.Reg, sums)
	for i := range acc {
		acc[i] = k.Mov(ptx.F32, ptx.F32Imm(0))
	}
	// Every lane of a warp runs the same trips, so shfl sees a converged
	// warp; a lane past the end re-reads the last chunk and scales it by
	// zero. All code loads of a trip are issued before any decode.
	k.ForWarp(warp, steps, ptx.Imm(gemvWarps), func(step ptx.Reg) {
		c := k.Op("mad.lo", ptx.U32, step, ptx.Imm(32), lane)
		active := k.Setp("lt", ptx.U32, c, chunks)
		c = k.Op("min", ptx.U32, c, last)
		words := make([]ptx.Vec, rows)
		scale := make([]ptx.Reg, rows)
		for r := range rows {
			words[r] = k.LdV("global.nc.L1::no_allocate", ptx.U32, 4, ptx.Addr{Base: index(k, codes, k.Op("add", ptx.U32, rowChunk[r], c), 16)})
			s := sc.at(k, k.Op("add", ptx.U32, rowBlock[r], k.Shift("shr", ptx.U32, c, chunkShift)))
			scale[r] = k.Selp(ptx.F32, s, ptx.F32Imm(0), active)
		}
		// Element index of the lane's chunk in each row of x.
		xRows := make([]ptx.Reg, g.M)
		for m := range xRows {
			xRows[m] = k.Shift("shl", ptx.B32, c, ptx.Imm(5))
			if m > 0 {
				xRows[m] = k.Op("add", ptx.U32, xRows[m-1], kk)
			}
		}
		rotated := make([][4]ptx.Reg, rows)
		for r := range rows {
			rotated[r] = rot.apply(k, words[r])
		}
		// Sums per chunk, scaled once; or, prescaled, each decoded value
		// times its scale straight into the running sums.
		decodeChunk(k, lut, alu, rotated, scale, acc, g.M, cfg.prescale, func(j int) []ptx.Vec {
			off := rot.xOffset[j]
			xv := make([]ptx.Vec, g.M)
			for m := range xv {
				xv[m] = k.LdV("global.nc", ptx.F32, 4, ptx.Addr{Base: index(k, x, k.Op("add", ptx.U32, xRows[m], off), 4)})
			}
			return xv
		})
	})

	// Each lane stores its part of a warp sum: one 128-byte store per
	// warp, the last butterfly round's shuffle left to the final add's
	// vector loads.
	sum, stride, group := warpSums(k, lane, acc)
	partial := k.SharedAddr(sPartial)
	slot := k.Op("mad.lo", ptx.U32, warp, ptx.Imm(gemvSums), lane)
	k.St("shared", ptx.F32, ptx.Addr{Base: k.Op("mad.lo", ptx.U32, slot, ptx.Imm(4), partial)}, sum)
	k.BarSync()
	k.If(k.Setp("lt", ptx.U32, tid, ptx.Imm(sums)), func() {
		r := k.Op("div", ptx.U32, tid, ptx.Imm(g.M))
		m := k.Op("rem", ptx.U32, tid, ptx.Imm(g.M))
		row := k.Op("add", ptx.U32, rowBase, r)
		k.If(k.Setp("lt", ptx.U32, row, n), func() {
			addr := k.Op("mad.lo", ptx.U32, tid, ptx.Imm(4*stride), partial)
			var total ptx.Reg
			for w := range gemvWarps {
				at := ptx.Addr{Base: addr, Offset: int64(4 * gemvSums * w)}
				var parts []ptx.Reg
				if group == 1 {
					parts = []ptx.Reg{k.Ld("shared", ptx.F32, at)}
				} else {
					parts = k.LdV("shared", ptx.F32, group, at)[:]
				}
				for _, v := range parts {
					if total == (ptx.Reg{}) {
						total = v
						continue
					}
					k.OpTo(total, "add.rn", ptx.F32, total, v)
				}
			}
			yi := k.Op("mad.lo", ptx.U32, n, m, row)
			k.St("global", ptx.F32, ptx.Addr{Base: index(k, y, yi, 4)}, total)
		})
	})
	return k
}

// quadRotation is lane l's rotation by l mod 8 of the eight 16-byte quads
// of its x chunk: its j-th x load reads quad (j + l) mod 8, so the 16
// lanes of a load phase, whose chunks lie 128 bytes apart, hit distinct
// banks. The lane's 16 bytes of codes (quad q in bits 16q…16q+15) turn the
// same way with two selp rounds over the words and one prmt.
type quadRotation struct {
	byTwoWords, byOneWord ptx.Reg    // predicates
	halfSel               ptx.Reg    // prmt selector: the upper half of a, the lower of b, or a
	xOffset               [8]ptx.Reg // element offset of load j's quad in the chunk
}

func newQuadRotation(k *ptx.Kernel, lane ptx.Reg) quadRotation {
	rho := k.Op("and", ptx.B32, lane, ptx.Imm(7))
	var q quadRotation
	q.byTwoWords = k.Setp("ne", ptx.U32, k.Op("and", ptx.B32, rho, ptx.Imm(4)), ptx.Imm(0))
	q.byOneWord = k.Setp("ne", ptx.U32, k.Op("and", ptx.B32, rho, ptx.Imm(2)), ptx.Imm(0))
	half := k.Setp("ne", ptx.U32, k.Op("and", ptx.B32, rho, ptx.Imm(1)), ptx.Imm(0))
	q.halfSel = k.Selp(ptx.B32, ptx.Imm(0x5432), ptx.Imm(0x3210), half)
	for j := range q.xOffset {
		quad := k.Op("and", ptx.B32, k.Op("add", ptx.U32, rho, ptx.Imm(j)), ptx.Imm(7))
		q.xOffset[j] = k.Shift("shl", ptx.B32, quad, ptx.Imm(2))
	}
	return q
}

// apply returns the words of w rotated right by 16·(lane mod 8) bits
// (quad j of the result is quad j + lane mod 8 of w).
func (q quadRotation) apply(k *ptx.Kernel, w ptx.Vec) [4]ptx.Reg {
	var t, u, v [4]ptx.Reg
	for i := range t {
		t[i] = k.Selp(ptx.B32, w[(i+2)%4], w[i], q.byTwoWords)
	}
	for i := range u {
		u[i] = k.Selp(ptx.B32, t[(i+1)%4], t[i], q.byOneWord)
	}
	for i := range v {
		v[i] = k.Prmt(u[i], u[(i+1)%4], q.halfSel)
	}
	return v
}

// warpSums reduces the lanes' partial sums vals (at most 32) across the
// warp, transposed: each round halves the values a lane carries, the lane
// keeping one half and adding its butterfly partner's copy of it, so P
// values take about P shuffles in place of 5·P. The warp total of value i
// is the sum of what lanes stride·i … stride·i+group−1 end with: for 16 or
// more values (stride 32 ÷ P rounded to a power of two, group the same) no
// shuffle finishes the last round, the reader adds the lanes' parts; fewer
// values are reduced to whole totals (group 1).
func warpSums(k *ptx.Kernel, lane ptx.Reg, vals []ptx.Reg) (sum ptx.Reg, stride, group int) {
	p2 := 1
	for p2 < len(vals) {
		p2 *= 2
	}
	cur := append([]ptx.Reg(nil), vals...)
	for len(cur) < p2 {
		cur = append(cur, k.Mov(ptx.F32, ptx.F32Imm(0)))
	}
	off := 16
	for len(cur) > 1 {
		h := len(cur) / 2
		upper := k.Setp("ne", ptx.U32, k.Op("and", ptx.B32, lane, ptx.Imm(off)), ptx.Imm(0))
		next := make([]ptx.Reg, h)
		for i := range next {
			keep := k.Selp(ptx.F32, cur[i+h], cur[i], upper)
			send := k.Selp(ptx.F32, cur[i], cur[i+h], upper)
			next[i] = k.Op("add.rn", ptx.F32, keep, k.Shfl("bfly", send, ptx.Imm(off), 31))
		}
		cur = next
		off /= 2
	}
	stride = 32 / p2
	if p2 >= 16 {
		return cur[0], stride, stride
	}
	for ; off >= 1; off /= 2 {
		k.OpTo(cur[0], "add.rn", ptx.F32, cur[0], k.Shfl("bfly", cur[0], ptx.Imm(off), 31))
	}
	return cur[0], stride, 1
}

// decodeChunk decodes each row's rotated code words (8 quads of four
// codes, rot's order) through lut and adds value·x to the sums acc[r·m+i]:
// in fresh per-chunk sums scaled once by the row's scale at the end, or,
// prescaled, each value times its scale straight into acc. loadX(j) loads
// the m rows' x quads for quad j.
//
// With alu, the last quad of each row decodes through it instead of lut.
func decodeChunk(k *ptx.Kernel, lut ptx.Reg, alu *aluCodebook, rotated [][4]ptx.Reg, scale, acc []ptx.Reg, m int, prescale bool, loadX func(j int) []ptx.Vec) {
	part := acc
	if !prescale {
		part = make([]ptx.Reg, len(acc))
		for i := range part {
			part[i] = k.Mov(ptx.F32, ptx.F32Imm(0))
		}
	}
	for j := range 8 {
		xv := loadX(j)
		for r := range rotated {
			w := rotated[r][j/2]
			var viaALU [4]ptx.Reg
			if alu != nil && j == 7 {
				viaALU = alu.decode4(k, k.Shift("shr", ptx.B32, w, ptx.Imm(16)))
			}
			for t := range 4 {
				var v ptx.Reg
				if viaALU[t] != (ptx.Reg{}) {
					v = k.Bitcast(ptx.F32, viaALU[t])
				} else {
					idx := w
					if sh := 16*(j%2) + 4*t; sh > 0 {
						idx = k.Shift("shr", ptx.B32, w, ptx.Imm(sh))
					}
					v = k.Shfl("idx", lut, idx, 31)
				}
				if prescale {
					v = k.Op("mul.rn", ptx.F32, v, scale[r])
				}
				for i := range xv {
					s := r*m + i
					k.OpTo(part[s], "fma.rn", ptx.F32, v, xv[i][t], part[s])
				}
			}
		}
	}
	if !prescale {
		for i := range acc {
			k.OpTo(acc[i], "fma.rn", ptx.F32, part[i], scale[i/m], acc[i])
		}
	}
}
