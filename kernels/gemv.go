package kernels

import (
	"fmt"

	"github.com/nf4go/nf4/kernels/ptx"
)

// Gemv is the fused dequantize-dot for small batches: y[m,n] = Σ_k x[m,k]·W[n,k]
// for m < M (M = 1…8, fixed per kernel). One warp owns one output row n:
// each lane reads 16 bytes of codes (32 weights) per step with a 128-bit
// load, decodes them through a codebook held one entry per lane (shfl.idx),
// and accumulates Σ code·x per block in float32, scaled once by the block's
// absmax. A butterfly shuffle reduces the warp; there is no barrier.
//
// Params: x, codes, scales (absmax, or absmax_q, nested_map,
// nested_absmax, nested_offset), y, n, k.
type Gemv struct {
	M           int
	BlockSize   int
	DoubleQuant bool
	Quant       QuantType // the code table (NF4 unless set; see ForQuant)
}

const (
	gemvThreads = 128
	gemvWarps   = gemvThreads / 32
	// gemvUnroll code loads are in flight per lane for M ≤ gemvUnrollMaxM;
	// larger batches already have many x loads in flight, and unrolling
	// them makes ptxas hoist enough loads to spill.
	gemvUnroll     = 2
	gemvUnrollMaxM = 4
	// MaxGemvM is the largest batch the gemv kernels take.
	MaxGemvM = 8
)

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

// Name is nf4_gemv_m<M>_b<B>[_dq][_fp4].
func (g *Gemv) Name() string {
	return fmt.Sprintf("nf4_gemv_m%d_b%d%s%s", g.M, g.BlockSize, dqSuffix(g.DoubleQuant), g.Quant.suffix())
}

// Params lists the launch arguments in order.
func (g *Gemv) Params() []string {
	p := append([]string{"x", "codes"}, scaleParamNames(g.DoubleQuant)...)
	return append(p, "y", "n", "k")
}

// MinSM is 80.
func (g *Gemv) MinSM() int { return 80 }

// RegBudget bounds registers per thread.
func (g *Gemv) RegBudget() int { return 128 }

// Launch runs 4 warps per block, one row each; Shape.M must equal g.M.
func (g *Gemv) Launch(s Shape) (Launch, error) {
	if err := checkShape(s, g.BlockSize, true); err != nil {
		return Launch{}, err
	}
	if s.M != g.M {
		return Launch{}, fmt.Errorf("%w: M=%d, kernel built for M=%d", errShape, s.M, g.M)
	}
	return Launch{Grid: [3]int{ceilDiv(s.N, gemvWarps), 1, 1}, Block: [3]int{gemvThreads, 1, 1}}, nil
}

// PTX prints the kernel for target t.
func (g *Gemv) PTX(t ptx.Target) (string, error) {
	if _, err := NewGemv(g.M, g.BlockSize, g.DoubleQuant); err != nil {
		return "", err
	}
	return build(t, g.Quant, g.build)
}

func (g *Gemv) build(_ *ptx.Module, cb ptx.Sym) *ptx.Kernel {
	k := ptx.NewKernel(g.Name())
	k.MaxThreads(gemvThreads)
	pX := k.Param("x")
	pCodes := k.Param("codes")
	sp := declareScales(k, g.DoubleQuant)
	pY := k.Param("y")
	pN := k.Param("n")
	pK := k.Param("k")

	x := k.LoadParam(pX)
	codes := k.LoadParam(pCodes)
	sc := sp.load(k)
	y := k.LoadParam(pY)
	n := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pN))
	kk := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(pK))
	lut := laneLUT(k, cb)

	lane := k.Special(ptx.LaneID)
	warp := k.Shift("shr", ptx.U32, k.Special(ptx.TidX), ptx.Imm(5))
	row := k.Op("mad.lo", ptx.U32, k.Special(ptx.CtaidX), ptx.Imm(gemvWarps), warp)
	// The whole warp leaves together: the row is the same for all its lanes.
	k.If(k.Setp("ge", ptx.U32, row, n), k.Return)

	chunks := k.Shift("shr", ptx.U32, kk, ptx.Imm(5)) // 32 weights per chunk
	last := k.Op("sub", ptx.U32, chunks, ptx.Imm(1))
	rowChunk := k.Op("mul.lo", ptx.U32, row, chunks)
	blocksPerRow := k.Shift("shr", ptx.U32, kk, ptx.Imm(log2(g.BlockSize)))
	rowBlock := k.Op("mul.lo", ptx.U32, row, blocksPerRow)
	sc.count = k.Op("mul.lo", ptx.U32, n, blocksPerRow)
	chunkShift := ptx.Imm(log2(g.BlockSize) - 5)

	acc := make([]ptx.Reg, g.M)
	for m := range acc {
		acc[m] = k.Mov(ptx.F32, ptx.F32Imm(0))
	}
	// Every lane runs the same trip count so shfl sees a converged warp;
	// a lane past the end re-reads the last chunk and scales it by zero.
	// Each pass issues unroll 128-bit code loads before using any, so
	// several are in flight per lane.
	unroll := gemvUnroll
	if g.M > gemvUnrollMaxM {
		unroll = 1
	}
	k.For(ptx.Imm(0), chunks, ptx.Imm(32*unroll), func(base ptx.Reg) {
		type step struct {
			c, s ptx.Reg
			w    ptx.Vec
		}
		steps := make([]step, unroll)
		for u := range steps {
			c := k.Op("add", ptx.U32, base, k.Op("add", ptx.U32, lane, ptx.Imm(32*u)))
			active := k.Setp("lt", ptx.U32, c, chunks)
			c = k.Op("min", ptx.U32, c, last)
			w := k.LdV("global.nc", ptx.U32, 4, ptx.Addr{Base: index(k, codes, k.Op("add", ptx.U32, rowChunk, c), 16)})
			sc := sc.at(k, k.Op("add", ptx.U32, rowBlock, k.Shift("shr", ptx.U32, c, chunkShift)))
			steps[u] = step{c, k.Selp(ptx.F32, sc, ptx.F32Imm(0), active), w}
		}
		for _, st := range steps {
			var vals [32]ptx.Reg
			for i := 0; i < 4; i++ {
				d := decode8(k, lut, st.w[i])
				copy(vals[8*i:], d[:])
			}
			kOff := k.Shift("shl", ptx.B32, st.c, ptx.Imm(5))
			for m := 0; m < g.M; m++ {
				xi := k.Op("mad.lo", ptx.U32, kk, ptx.Imm(m), kOff)
				xa := index(k, x, xi, 4)
				part := k.Mov(ptx.F32, ptx.F32Imm(0))
				for q := 0; q < 8; q++ {
					xv := k.LdV("global.nc", ptx.F32, 4, ptx.Addr{Base: xa, Offset: int64(16 * q)})
					for j := 0; j < 4; j++ {
						k.OpTo(part, "fma.rn", ptx.F32, vals[4*q+j], xv[j], part)
					}
				}
				k.OpTo(acc[m], "fma.rn", ptx.F32, part, st.s, acc[m])
			}
		}
	})
	for m := range acc {
		for off := 16; off >= 1; off /= 2 {
			o := k.Shfl("bfly", acc[m], ptx.Imm(off), 31)
			k.OpTo(acc[m], "add.rn", ptx.F32, acc[m], o)
		}
	}
	k.If(k.Setp("eq", ptx.U32, lane, ptx.Imm(0)), func() {
		for m := range acc {
			yi := k.Op("mad.lo", ptx.U32, n, ptx.Imm(m), row)
			k.St("global", ptx.F32, ptx.Addr{Base: index(k, y, yi, 4)}, acc[m])
		}
	})
	return k
}
