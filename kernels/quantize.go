package kernels

import (
	"fmt"

	"github.com/nf4go/nf4/kernels/ptx"
)

// Quantize turns float32 values into 4-bit codes (NF4, or the table Quant
// names) and one float32 absmax per block with bitsandbytes' CPU rule, as
// the cpu package does. One warp owns
// one block: lanes read 8 values at a time (two 128-bit loads), the block's
// absmax comes from a butterfly max-reduction, r = 1/max(absmax, 1e-38)
// (div.rn), and each value's code is the number of the table's float32
// midpoints strictly below x·r (mul.rn; ties go to the lower code), mapped
// through the table's sort order. An all-zero block stores absmax 0 and
// gets the zero code. Subnormals are kept (no .ftz), as on the CPU.
//
// Params: x, codes, absmax, n (number of values, a multiple of B).
type Quantize struct {
	BlockSize int
	Quant     QuantType // the code table (NF4 unless set; see ForQuant)
}

// minScale is the floor bitsandbytes puts under absmax before taking its
// reciprocal (absmax.clamp(min=1e-38)), rounded to float32.
const minScale float32 = 1e-38

const (
	quantThreads = 256
	quantWarps   = quantThreads / 32
)

// NewQuantize checks the configuration.
func NewQuantize(blockSize int) (*Quantize, error) {
	if err := validBlockSize(blockSize); err != nil {
		return nil, err
	}
	return &Quantize{BlockSize: blockSize}, nil
}

// Name is nf4_quantize_b<B>[_fp4].
func (q *Quantize) Name() string {
	return fmt.Sprintf("nf4_quantize_b%d%s", q.BlockSize, q.Quant.suffix())
}

// Params lists the launch arguments in order.
func (q *Quantize) Params() []string { return []string{"x", "codes", "absmax", "n"} }

// MinSM is 80.
func (q *Quantize) MinSM() int { return 80 }

// RegBudget bounds registers per thread.
func (q *Quantize) RegBudget() int { return 48 }

// Launch runs 8 warps per block, one NF4 block each, over N·K values.
func (q *Quantize) Launch(s Shape) (Launch, error) {
	if err := checkShape(s, q.BlockSize, false); err != nil {
		return Launch{}, err
	}
	blocks := s.N * s.K / q.BlockSize
	return Launch{Grid: [3]int{ceilDiv(blocks, quantWarps), 1, 1}, Block: [3]int{quantThreads, 1, 1}}, nil
}

// PTX prints the kernel for target t.
func (q *Quantize) PTX(t ptx.Target) (string, error) {
	if _, err := NewQuantize(q.BlockSize); err != nil {
		return "", err
	}
	return build(t, q.Quant, q.build)
}

func (q *Quantize) build(_ *ptx.Module, _ ptx.Sym) *ptx.Kernel {
	k := ptx.NewKernel(q.Name())
	k.MaxThreads(quantThreads)
	pX, pCodes, pAbs, pN := k.Param("x"), k.Param("codes"), k.Param("absmax"), k.Param("n")
	x := k.LoadParam(pX)
	codes := k.LoadParam(pCodes)
	absmax := k.LoadParam(pAbs)
	n := k.LoadParam(pN)

	lb := log2(q.BlockSize)
	nblocks := k.Cvt("", ptx.U32, ptx.U64, k.Shift("shr", ptx.U64, n, ptx.Imm(lb)))
	lane := k.Special(ptx.LaneID)
	warp := k.Shift("shr", ptx.U32, k.Special(ptx.TidX), ptx.Imm(5))
	blk := k.Op("mad.lo", ptx.U32, k.Special(ptx.CtaidX), ptx.Imm(quantWarps), warp)
	// The block index is the same for the whole warp, so it leaves together.
	k.If(k.Setp("ge", ptx.U32, blk, nblocks), k.Return)

	groups := ptx.Imm(q.BlockSize / 8)
	first := k.Shift("shl", ptx.B32, blk, ptx.Imm(lb)) // first value of the block
	load := func(g ptx.Reg) []ptx.Reg {
		a := index(k, x, k.Op("mad.lo", ptx.U32, g, ptx.Imm(8), first), 4)
		v := k.LdV("global.nc", ptx.F32, 4, ptx.Addr{Base: a})
		w := k.LdV("global.nc", ptx.F32, 4, ptx.Addr{Base: a, Offset: 16})
		return append(v, w...)
	}

	m := k.Mov(ptx.F32, ptx.F32Imm(0))
	k.For(lane, groups, ptx.Imm(32), func(g ptx.Reg) {
		for _, v := range load(g) {
			k.OpTo(m, "max", ptx.F32, m, k.Op("abs", ptx.F32, v))
		}
	})
	for off := 16; off >= 1; off /= 2 {
		k.OpTo(m, "max", ptx.F32, m, k.Shfl("bfly", m, ptx.Imm(off), 31))
	}
	k.If(k.Setp("eq", ptx.U32, lane, ptx.Imm(0)), func() {
		k.St("global", ptx.F32, ptx.Addr{Base: index(k, absmax, blk, 4)}, m)
	})

	// The floor keeps the reciprocal finite for an all-zero block.
	r := k.Op("div.rn", ptx.F32, ptx.F32Imm(1), k.Op("max", ptx.F32, m, ptx.F32Imm(minScale)))
	order, mids := q.Quant.sorted()
	// A table not in ascending code order (FP4) maps each rank to its code
	// through its sort order, packed into one 64-bit word of nibbles.
	var remap ptx.Reg
	identity := true
	var packed uint64
	for r, c := range order {
		identity = identity && int(c) == r
		packed |= uint64(c) << (4 * r)
	}
	if !identity {
		remap = k.Mov(ptx.U64, ptx.Imm(int64(packed)))
	}
	k.For(lane, groups, ptx.Imm(32), func(g ptx.Reg) {
		word := k.Mov(ptx.B32, ptx.Imm(0))
		for j, xv := range load(g) {
			v := k.Op("mul.rn", ptx.F32, xv, r)
			code := k.Mov(ptx.U32, ptx.Imm(0))
			for _, mid := range mids {
				gt := k.Setp("gt", ptx.F32, v, ptx.F32Imm(mid))
				k.OpTo(code, "add", ptx.U32, code, k.Selp(ptx.U32, ptx.Imm(1), ptx.Imm(0), gt))
			}
			if !identity {
				pos := k.Shift("shl", ptx.B32, code, ptx.Imm(2))
				code = k.Cvt("", ptx.U32, ptx.U64, k.Bfe(ptx.U64, remap, pos, ptx.Imm(4)))
			}
			k.OpTo(word, "or", ptx.B32, word, k.Shift("shl", ptx.B32, code, ptx.Imm(4*j)))
		}
		byteOff := k.Op("mad.lo", ptx.U32, g, ptx.Imm(4), k.Shift("shr", ptx.U32, first, ptx.Imm(1)))
		k.St("global", ptx.B32, ptx.Addr{Base: index(k, codes, byteOff, 1)}, word)
	})
	return k
}
