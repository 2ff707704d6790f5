// Package cudaplan is the host side of the CUDA backend: which kernel runs a
// shape, its launch geometry, the argument list a launch passes, the
// PTX target for a device and the on-disk key of a compiled kernel. None of
// it needs cgo or a GPU, so all of it is tested in the ordinary build, the
// launches against the PTX simulator.
package cudaplan

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptx"
	"github.com/nf4go/nf4/kernels/tensormap"
)

// Op is the operation a plan runs.
type Op int

// The operations the device runs.
const (
	Forward    Op = iota // y[M,N] = x[M,K]·Wᵀ
	Backward             // dx[M,K] = dy[M,N]·W
	Dequantize           // out[N,K] = W as float32
)

func (o Op) String() string {
	switch o {
	case Forward:
		return "linear"
	case Backward:
		return "linear backward"
	case Dequantize:
		return "dequantize"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Mode is how a forward product multiplies (M = 1 always on the float32
// gemv).
type Mode int

// Compute modes.
const (
	// Float32 multiplies with float32 FMAs: the result matches the CPU path
	// to float32 rounding.
	Float32 Mode = iota
	// BF16 rounds x and the decoded weights to bf16 and multiplies on tensor
	// cores with float32 accumulation: several times faster, about three
	// significant digits.
	BF16
)

func (m Mode) String() string {
	switch m {
	case Float32:
		return "float32"
	case BF16:
		return "bf16 tensor cores"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Problem is one operation on one weight: W is [N, K] with block size B
// and code table Quant (NF4 unless set). M is the number of activation
// rows (unused by Dequantize). SMs is the device's multiprocessor count
// (0 if unknown): the gemv sizes its blocks so that the last wave is full
// (kernels.GemvRowsFor).
type Problem struct {
	Op          Op
	Mode        Mode
	M, N, K     int
	BlockSize   int
	DoubleQuant bool
	Quant       kernels.QuantType
	SMs         int
	// Arch is the device's compute capability, major·10 + minor (90 for
	// 9.0); 0 when unknown. The sm_90a warpgroup GEMM runs on 90 exactly.
	Arch int
	// TensorMaps says the driver encodes tensor maps (CUDA 12.0 and later),
	// which the warpgroup GEMM's copies read.
	TensorMaps bool
}

func (p Problem) String() string {
	dq := ""
	if p.DoubleQuant {
		dq = ", double-quantized"
	}
	if p.Quant != kernels.NF4 {
		dq += ", " + strings.ToUpper(p.Quant.String())
	}
	if p.Op == Dequantize {
		return fmt.Sprintf("%v of W[%d %d] (block %d%s)", p.Op, p.N, p.K, p.BlockSize, dq)
	}
	return fmt.Sprintf("%v M=%d N=%d K=%d (block %d%s)", p.Op, p.M, p.N, p.K, p.BlockSize, dq)
}

// Plan is the kernel that runs a Problem and how to launch it.
type Plan struct {
	Problem Problem
	Kernel  kernels.Kernel
	Launch  kernels.Launch
}

// ErrShape reports a problem no kernel can run.
var ErrShape = errors.New("shape not supported by the device kernels")

// Choose picks the kernel for p: for a forward pass with M ≤
// kernels.MaxGemvM a gemv (each block streams a few weight rows): in the
// bf16 mode for M ≥ 2 (up to kernels.MaxGemvTCM) the tensor-core gemv,
// its tiles per block chosen for p.N on p.SMs multiprocessors, else (one
// row is memory-bound on it already, and float32 is exact) the float32
// gemv, its rows per block chosen so; the GEMM of the chosen mode above
// that (in the bf16 mode on compute capability 9.0 exactly, p.Arch 90,
// with a driver that encodes tensor maps, the sm_90a warpgroup GEMM, its
// rows per block and split of K chosen for p.M, p.N, p.K and p.SMs by
// kernels.NewGemmWGFor: the model puts it ahead of the split GemmTC at
// every M above kernels.MaxGemvTCM, BENCHMARKS.md; GemmTC elsewhere, split
// along K when its tiles are under a wave, sm_90a code running on 9.0
// only); for a backward pass
// the transposed GEMM, on tensor cores in the bf16 mode above
// kernels.MaxGemvM rows, in float32 otherwise; and the float32 dequantize
// kernel. A tensor-core GEMM whose output tiles do not fill a wave of p.SMs
// multiprocessors splits its reduction (kernels.TCSplitsFor, WGSplitsFor): its launch
// then names a Workspace, passed as the parameter "workspace".
func Choose(p Problem) (Plan, error) {
	if p.N < 1 || p.K < 1 || (p.Op != Dequantize && p.M < 1) {
		return Plan{}, fmt.Errorf("%w: %v", ErrShape, p)
	}
	var (
		k   kernels.Kernel
		err error
	)
	s := kernels.Shape{M: p.M, N: p.N, K: p.K, BlockSize: p.BlockSize}
	switch p.Op {
	case Forward:
		switch {
		case p.M <= kernels.MaxGemvTCM && p.M >= kernels.MinGemvTCM && p.Mode == BF16:
			k, err = kernels.NewGemvTCFor(p.M, p.N, p.SMs, p.BlockSize, p.DoubleQuant)
		case p.M <= kernels.MaxGemvM:
			k, err = kernels.NewGemvFor(p.M, p.N, p.SMs, p.BlockSize, p.DoubleQuant)
		case p.Mode == BF16 && p.Arch == 90 && p.TensorMaps:
			k, err = kernels.NewGemmWGFor(p.M, p.N, p.K, p.SMs, p.BlockSize, p.DoubleQuant)
		case p.Mode == BF16:
			k, err = kernels.NewGemmTCFor(p.M, p.N, p.K, p.SMs, p.BlockSize, p.DoubleQuant)
		case p.Mode == Float32:
			k, err = kernels.NewGemm(p.BlockSize, p.DoubleQuant, false)
		default:
			err = fmt.Errorf("unknown compute mode %v", p.Mode)
		}
	case Backward:
		if p.Mode == BF16 && p.M > kernels.MaxGemvM {
			k, err = kernels.NewGemmTCTransposedFor(p.M, p.N, p.K, p.SMs, p.BlockSize, p.DoubleQuant)
		} else {
			k, err = kernels.NewGemm(p.BlockSize, p.DoubleQuant, true)
		}
	case Dequantize:
		s.M = 1
		k, err = kernels.NewDequantize(kernels.OutF32, p.BlockSize, p.DoubleQuant)
	default:
		err = fmt.Errorf("unknown op %v", p.Op)
	}
	if err == nil && p.Quant != kernels.NF4 {
		k, err = kernels.ForQuant(k, p.Quant)
	}
	if err != nil {
		return Plan{}, fmt.Errorf("%w: %v: %v", ErrShape, p, err)
	}
	l, err := k.Launch(s)
	if err != nil {
		return Plan{}, fmt.Errorf("%w: %v: %v", ErrShape, p, err)
	}
	return Plan{Problem: p, Kernel: k, Launch: l}, nil
}

// InBF16 reports whether the kernel reads the activation as bf16 (see
// ToBF16), not float32: the tensor-core gemv and forward GEMMs, which read
// it many times over, take it rounded once on the host, at half the bytes
// (GemmWG through a tensor map over that buffer, x_map).
func (pl Plan) InBF16() bool {
	for _, name := range pl.Kernel.Params() {
		if name == "x_bf16" || name == "x_map" {
			return true
		}
	}
	return false
}

// ToBF16 rounds src to bf16 into dst (len(src) values) as cvt.rn.bf16.f32
// does: to nearest, ties to even, NaNs kept (quiet).
func ToBF16(dst []uint16, src []float32) {
	for i, f := range src {
		b := math.Float32bits(f)
		if b&0x7fffffff > 0x7f800000 {
			dst[i] = uint16(b>>16) | 0x40
			continue
		}
		dst[i] = uint16((b + 0x7fff + (b >> 16 & 1)) >> 16)
	}
}

// InLen and OutLen are the float32 lengths of the activation read and the
// result written.
func (p Problem) InLen() int {
	switch p.Op {
	case Forward:
		return p.M * p.K
	case Backward:
		return p.M * p.N
	}
	return 0
}

// OutLen is the float32 length of the result.
func (p Problem) OutLen() int {
	switch p.Op {
	case Forward:
		return p.M * p.N
	case Backward:
		return p.M * p.K
	}
	return p.N * p.K
}

// MACs is the number of multiply-adds of a matrix product (0 for
// Dequantize).
func (p Problem) MACs() int64 {
	if p.Op == Dequantize {
		return 0
	}
	return int64(p.M) * int64(p.N) * int64(p.K)
}

// Buffers are the device addresses and the scalar a launch reads.
type Buffers struct {
	In, Out uint64 // activation (x or dy) and result (y, dx or the dequantized W)
	Codes   uint64 // packed codes, N·K/2 bytes
	// Absmax holds one float32 per block when the scales are plain.
	Absmax uint64
	// Q, Map and Nested hold the double-quantized scales: one byte per
	// block, the 256-entry float32 map and one float32 per 256 blocks.
	Q, Map, Nested uint64
	Offset         float32
	// Workspace is the zeroed scratch of Launch.Workspace bytes, for a
	// kernel that asks for one.
	Workspace uint64
}

// Arg is one launch argument: 8 bytes (Bits), or for a tensor-map
// parameter the map (Map), which the driver encodes into its 128 bytes.
type Arg struct {
	Bits uint64
	Map  *tensormap.Map2D
}

// Args returns the kernel's parameters in launch order: device addresses
// as they are, sizes as uint64, the float32 offset as its IEEE bits in the
// low half, tensor maps over the buffers they name (x_map over In, as
// bf16). It goes by the parameter names the kernel declares, so a kernel
// whose parameter list changes is an error here rather than a launch
// reading the wrong slot.
func (pl Plan) Args(b Buffers) ([]Arg, error) {
	p := pl.Problem
	names := pl.Kernel.Params()
	args := make([]Arg, len(names))
	for i, name := range names {
		var v uint64
		switch name {
		case "x", "dy", "x_bf16":
			v = b.In
		case "x_map":
			tm, ok := pl.Kernel.(kernels.TensorMapper)
			if !ok {
				return nil, fmt.Errorf("kernel %s: parameter %q but no tensor maps", pl.Kernel.Name(), name)
			}
			if b.In == 0 {
				return nil, fmt.Errorf("kernel %s: parameter %q over a zero address", pl.Kernel.Name(), name)
			}
			m, err := tm.TensorMap(name, pl.shape(), b.In)
			if err == nil {
				err = m.Validate()
			}
			if err != nil {
				return nil, fmt.Errorf("kernel %s: parameter %q: %w", pl.Kernel.Name(), name, err)
			}
			args[i].Map = &m
			continue
		case "workspace":
			v = b.Workspace
		case "y", "dx", "out":
			v = b.Out
		case "codes":
			v = b.Codes
		case "absmax":
			v = b.Absmax
		case "absmax_q":
			v = b.Q
		case "nested_map":
			v = b.Map
		case "nested_absmax":
			v = b.Nested
		case "nested_offset":
			v = uint64(math.Float32bits(b.Offset))
		case "m":
			v = uint64(p.M)
		case "n":
			v = uint64(p.N)
			if p.Op == Dequantize { // the number of values
				v = uint64(p.N) * uint64(p.K)
			}
		case "k":
			v = uint64(p.K)
		default:
			return nil, fmt.Errorf("kernel %s: unknown parameter %q", pl.Kernel.Name(), name)
		}
		if v == 0 && name != "nested_offset" {
			return nil, fmt.Errorf("kernel %s: parameter %q is zero", pl.Kernel.Name(), name)
		}
		args[i].Bits = v
	}
	return args, nil
}

// shape is the kernel shape of the plan's problem.
func (pl Plan) shape() kernels.Shape {
	p := pl.Problem
	s := kernels.Shape{M: p.M, N: p.N, K: p.K, BlockSize: p.BlockSize}
	if p.Op == Dequantize {
		s.M = 1
	}
	return s
}

// UseDevice reports whether a product of macs multiply-adds goes to the
// device: below threshold, launch latency and the activation round trip
// cost more than the CPU takes. A threshold ≤ 0 sends everything.
func UseDevice(macs, threshold int64) bool { return threshold <= 0 || macs >= threshold }

// DefaultThreshold is the default UseDevice threshold in multiply-adds:
// about 30 µs of a multi-core CPU, the order of one launch plus two small
// copies and a synchronisation.
const DefaultThreshold int64 = 1 << 19

// Target picks the PTX target for a device of compute capability
// major.minor: the newest target the kernels print that the device runs,
// the driver JIT-compiling it for the device's own architecture (PTX runs on
// every later architecture). Devices before sm_80 lack the instructions the
// kernels use.
func Target(major, minor int) (ptx.Target, error) {
	sm := 10*major + minor
	var best ptx.Target
	for _, t := range ptx.Targets() {
		if t.SM <= sm && t.SM > best.SM {
			best = t
		}
	}
	if best.SM == 0 {
		return ptx.Target{}, fmt.Errorf("compute capability %d.%d: the NF4 kernels need sm_80 or newer", major, minor)
	}
	return best, nil
}
