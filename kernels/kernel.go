package kernels

import (
	"errors"
	"fmt"

	"github.com/nf4go/nf4/kernels/ptx"
	"github.com/nf4go/nf4/kernels/tensormap"
)

// Shape is the problem a kernel is launched on. For matrix kernels
// x is [M,K], W is [N,K] and y is [M,N]; dequantize and quantize use N·K
// values. BlockSize is the NF4 block size B (K % B == 0).
type Shape struct {
	M, N, K   int
	BlockSize int
}

// Launch is the geometry of one launch.
type Launch struct {
	Grid, Block [3]int
	SharedBytes int // static, declared in the PTX
	// DynamicShared is the dynamic shared memory the launch passes, for a
	// kernel that declares it extern (more than the 48 KB a kernel may
	// declare statically; the host raises the function's limit to it).
	DynamicShared int
	// Workspace is the size of the scratch buffer passed as the parameter
	// "workspace" (0: none). The host zeroes it once, when it allocates it,
	// and may reuse it for any later launch: a kernel must leave it zero
	// (a split-K's partial sums and arrival counters, reset by the block
	// that reduces them).
	Workspace int
}

// Kernel is one NF4 kernel configuration.
type Kernel interface {
	Name() string
	Params() []string
	MinSM() int
	// RegBudget is the most registers per thread the kernel may use; the
	// ptxas checks hold the kernel to it.
	RegBudget() int
	Launch(s Shape) (Launch, error)
	PTX(t ptx.Target) (string, error)
}

// TensorMapper is a kernel with tensor-map parameters (cp.async.bulk.tensor
// sources, 128 bytes each, passed by value): TensorMap says which map the
// parameter named param is over the buffer at device address base for
// shape s. Its other parameters are 8 bytes each, as for every kernel.
type TensorMapper interface {
	Kernel
	TensorMap(param string, s Shape, base uint64) (tensormap.Map2D, error)
}

// Supported block sizes: 32, 64, …, 4096.
func validBlockSize(b int) error {
	if b < 32 || b > 4096 || b&(b-1) != 0 {
		return fmt.Errorf("kernels: block size %d not supported (want a power of two in 32..4096)", b)
	}
	return nil
}

func log2(n int) int {
	l := 0
	for n > 1 {
		n >>= 1
		l++
	}
	return l
}

var errShape = errors.New("kernels: bad shape")

// checkShape validates a shape for a kernel compiled for block size b.
func checkShape(s Shape, b int, needM bool) error {
	switch {
	case s.BlockSize != b:
		return fmt.Errorf("%w: block size %d, kernel built for %d", errShape, s.BlockSize, b)
	case s.N < 1 || s.K < 1 || (needM && s.M < 1):
		return fmt.Errorf("%w: M=%d N=%d K=%d", errShape, s.M, s.N, s.K)
	case s.K%b != 0:
		return fmt.Errorf("%w: K=%d is not a multiple of the block size %d", errShape, s.K, b)
	case int64(s.N)*int64(s.K) >= 1<<34 || int64(s.M)*int64(s.K) >= 1<<32 || int64(s.M)*int64(s.N) >= 1<<32:
		return fmt.Errorf("%w: M=%d N=%d K=%d exceeds the 32-bit index range", errShape, s.M, s.N, s.K)
	}
	return nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// build prints a single-kernel module holding the code table q as the
// constant array "codebook", whose symbol the body gets (see QuantType).
func build(t ptx.Target, q QuantType, f func(m *ptx.Module, cb ptx.Sym) *ptx.Kernel) (string, error) {
	if err := q.valid(); err != nil {
		return "", err
	}
	m := ptx.NewModule()
	v := q.Values()
	cb := m.ConstF32("codebook", v[:])
	m.Add(f(m, cb))
	return m.Print(t)
}
