package kernels

import (
	"fmt"

	"github.com/nf4go/nf4/kernels/ptx"
)

// OutType is the element type dequantize writes.
type OutType int

// Output element types.
const (
	OutF32 OutType = iota
	OutF16
	OutBF16
)

func (o OutType) String() string {
	switch o {
	case OutF32:
		return "f32"
	case OutF16:
		return "f16"
	case OutBF16:
		return "bf16"
	}
	return fmt.Sprintf("OutType(%d)", int(o))
}

// Dequantize expands 4-bit codes to a dense array: out[i] = table[code i] ·
// absmax[i/B] (one float32 multiply, then a round-to-nearest conversion for
// f16/bf16). Each thread reads 16 bytes of codes (32 values) with one
// 128-bit load; a warp reads 512 contiguous bytes.
//
// Params: codes, scales (absmax, or absmax_q, nested_map, nested_absmax,
// nested_offset), out, n (number of values, N·K).
type Dequantize struct {
	Out         OutType
	BlockSize   int
	DoubleQuant bool
	Quant       QuantType // the code table (NF4 unless set; see ForQuant)
}

const dequantThreads = 256

// NewDequantize checks the configuration.
func NewDequantize(out OutType, blockSize int, doubleQuant bool) (*Dequantize, error) {
	if out < OutF32 || out > OutBF16 {
		return nil, fmt.Errorf("kernels: dequantize: unknown output type %d", int(out))
	}
	if err := validBlockSize(blockSize); err != nil {
		return nil, err
	}
	return &Dequantize{Out: out, BlockSize: blockSize, DoubleQuant: doubleQuant}, nil
}

func dqSuffix(dq bool) string {
	if dq {
		return "_dq"
	}
	return ""
}

// Name is nf4_dequantize_<out>_b<B>[_dq][_fp4].
func (d *Dequantize) Name() string {
	return fmt.Sprintf("nf4_dequantize_%s_b%d%s%s", d.Out, d.BlockSize, dqSuffix(d.DoubleQuant), d.Quant.suffix())
}

// Params lists the launch arguments in order.
func (d *Dequantize) Params() []string {
	p := append([]string{"codes"}, scaleParamNames(d.DoubleQuant)...)
	return append(p, "out", "n")
}

// MinSM is 80 (bf16 conversions, shfl.sync).
func (d *Dequantize) MinSM() int { return 80 }

// RegBudget bounds registers per thread.
func (d *Dequantize) RegBudget() int { return 64 }

// Launch covers N·K values, 32 per thread.
func (d *Dequantize) Launch(s Shape) (Launch, error) {
	if err := checkShape(s, d.BlockSize, false); err != nil {
		return Launch{}, err
	}
	chunks := s.N * s.K / 32
	return Launch{Grid: [3]int{ceilDiv(chunks, dequantThreads), 1, 1}, Block: [3]int{dequantThreads, 1, 1}}, nil
}

// PTX prints the kernel for target t.
func (d *Dequantize) PTX(t ptx.Target) (string, error) {
	if _, err := NewDequantize(d.Out, d.BlockSize, d.DoubleQuant); err != nil {
		return "", err
	}
	return build(t, d.Quant, d.build)
}

func (d *Dequantize) build(_ *ptx.Module, cb ptx.Sym) *ptx.Kernel {
	k := ptx.NewKernel(d.Name())
	k.MaxThreads(dequantThreads)
	pCodes := k.Param("codes")
	sp := declareScales(k, d.DoubleQuant)
	pOut := k.Param("out")
	pN := k.Param("n")

	codes := k.LoadParam(pCodes)
	sc := sp.load(k)
	out := k.LoadParam(pOut)
	n := k.LoadParam(pN)
	lut := laneLUT(k, cb)

	chunks := k.Cvt("", ptx.U32, ptx.U64, k.Shift("shr", ptx.U64, n, ptx.Imm(5)))
	sc.count = k.Shift("shr", ptx.U32, chunks, ptx.Imm(log2(d.BlockSize)-5))
	t := globalThread(k, dequantThreads)
	active := k.Setp("lt", ptx.U32, t, chunks)
	// Threads past the end decode the last chunk too (shfl needs the whole
	// warp) and skip the store.
	last := k.Op("sub", ptx.U32, chunks, ptx.Imm(1))
	c := k.Op("min", ptx.U32, t, last)
	w := k.LdV("global.nc", ptx.U32, 4, ptx.Addr{Base: index(k, codes, c, 16)})
	scale := sc.at(k, k.Shift("shr", ptx.U32, c, ptx.Imm(log2(d.BlockSize)-5)))
	var vals [32]ptx.Reg
	for i := 0; i < 4; i++ {
		for j, v := range decode8(k, lut, w[i]) {
			vals[8*i+j] = k.Op("mul.rn", ptx.F32, v, scale)
		}
	}
	k.If(active, func() {
		if d.Out == OutF32 {
			dst := index(k, out, c, 128)
			for i := 0; i < 8; i++ {
				k.StV("global", ptx.F32, ptx.Addr{Base: dst, Offset: int64(16 * i)}, ptx.Vec(vals[4*i:4*i+4]))
			}
			return
		}
		pack := ptx.F16x2
		if d.Out == OutBF16 {
			pack = ptx.BF16x2
		}
		dst := index(k, out, c, 64)
		for i := 0; i < 4; i++ {
			var v ptx.Vec
			for j := 0; j < 4; j++ {
				e := 8*i + 2*j
				v = append(v, k.CvtPack(pack, vals[e], vals[e+1]))
			}
			k.StV("global", ptx.B32, ptx.Addr{Base: dst, Offset: int64(16 * i)}, v)
		}
	})
	return k
}
