package perf

import (
	"fmt"
	"math"
	"testing"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/internal/ptxas"
)

// budgets hold each kernel to the predicted fraction of its physical
// limit it reaches today on the H200 profile, or the one named (the
// model's fraction, truncated to 0.1 percentage point): a change that
// makes a kernel slower in the model fails here. Work that speeds a kernel
// up raises its floor (the test says by how much it could).
var budgets = []struct {
	kernel func(kernels.Shape, Device) (kernels.Kernel, error)
	shape  kernels.Shape
	floor  float64
	device string // a profile key; "" is h200
}{
	{dequantizeF32, kernels.Shape{N: 4096, K: 4096, BlockSize: 64}, 0.867, ""},
	{dequantizeBF16, kernels.Shape{N: 4096, K: 4096, BlockSize: 64}, 0.914, ""},
	{dequantizeBF16, kernels.Shape{N: 14336, K: 4096, BlockSize: 64}, 0.914, ""},
	// The gemv floors sit half a point under today's fractions. M = 1
	// decodes an eighth of its codes by byte permutes (aluCodebook), which
	// lifted it from 84.6–86.0 % (bound by the shuffles' data path) to
	// 89.8–94.4 %.
	{gemv(1), kernels.Shape{M: 1, N: 4096, K: 4096, BlockSize: 64}, 0.894, ""},
	{gemv(1), kernels.Shape{M: 1, N: 8192, K: 8192, BlockSize: 64}, 0.939, ""},
	// 14 rows per block (not 16) fill the last wave of 132 SMs.
	{gemv(1), kernels.Shape{M: 1, N: 11008, K: 4096, BlockSize: 64}, 0.902, ""},
	{gemv(2), kernels.Shape{M: 2, N: 11008, K: 4096, BlockSize: 64}, 0.789, ""},
	{gemv(1), kernels.Shape{M: 1, N: 4096, K: 11008, BlockSize: 64}, 0.927, ""},
	{gemv(1), kernels.Shape{M: 1, N: 14336, K: 4096, BlockSize: 64}, 0.893, ""},
	{gemv(2), kernels.Shape{M: 2, N: 4096, K: 4096, BlockSize: 64}, 0.788, ""},
	{gemv(3), kernels.Shape{M: 3, N: 4096, K: 4096, BlockSize: 64}, 0.616, ""},
	{gemv(4), kernels.Shape{M: 4, N: 4096, K: 4096, BlockSize: 64}, 0.531, ""},
	// M = 5…8 in lane groups (16 rows per block, 12 at N = 11008): issue
	// bound, 8 FFMA per weight at M = 8 being most of it.
	{gemv(5), kernels.Shape{M: 5, N: 4096, K: 4096, BlockSize: 64}, 0.482, ""},
	{gemv(5), kernels.Shape{M: 5, N: 11008, K: 4096, BlockSize: 64}, 0.478, ""},
	{gemv(6), kernels.Shape{M: 6, N: 4096, K: 4096, BlockSize: 64}, 0.426, ""},
	{gemv(7), kernels.Shape{M: 7, N: 4096, K: 4096, BlockSize: 64}, 0.382, ""},
	{gemv(8), kernels.Shape{M: 8, N: 4096, K: 4096, BlockSize: 64}, 0.343, ""},
	{gemv(8), kernels.Shape{M: 8, N: 8192, K: 8192, BlockSize: 64}, 0.345, ""},
	{gemv(8), kernels.Shape{M: 8, N: 11008, K: 4096, BlockSize: 64}, 0.332, ""},
	{gemv(8), kernels.Shape{M: 8, N: 4096, K: 11008, BlockSize: 64}, 0.349, ""},
	{gemv(8), kernels.Shape{M: 8, N: 14336, K: 4096, BlockSize: 64}, 0.340, ""},
	// H100's 3 TB/s leaves M ≤ 2 at DRAM copy bandwidth.
	{gemv(1), kernels.Shape{M: 1, N: 4096, K: 4096, BlockSize: 64}, 0.995, "h100"},
	{gemv(2), kernels.Shape{M: 2, N: 4096, K: 4096, BlockSize: 64}, 0.995, "h100"},
	{gemv(1), kernels.Shape{M: 1, N: 11008, K: 4096, BlockSize: 64}, 0.995, "h100"},
	{gemv(1), kernels.Shape{M: 1, N: 4096, K: 11008, BlockSize: 64}, 0.995, "h100"},
	{gemv(1), kernels.Shape{M: 1, N: 14336, K: 4096, BlockSize: 64}, 0.995, "h100"},
	{gemv(4), kernels.Shape{M: 4, N: 4096, K: 4096, BlockSize: 64}, 0.763, "h100"},
	{gemv(5), kernels.Shape{M: 5, N: 4096, K: 4096, BlockSize: 64}, 0.693, "h100"},
	{gemv(8), kernels.Shape{M: 8, N: 4096, K: 4096, BlockSize: 64}, 0.494, "h100"},
	{gemv(8), kernels.Shape{M: 8, N: 11008, K: 4096, BlockSize: 64}, 0.479, "h100"},
	// The bf16 tensor-core gemv (M = 2…8), tiles per block chosen for
	// the shape: floors half a point under today's fractions.
	{gemvTC(2), kernels.Shape{M: 2, N: 4096, K: 4096, BlockSize: 64}, 0.890, ""},
	{gemvTC(4), kernels.Shape{M: 4, N: 4096, K: 4096, BlockSize: 64}, 0.928, ""},
	{gemvTC(8), kernels.Shape{M: 8, N: 4096, K: 4096, BlockSize: 64}, 0.850, ""},
	{gemvTC(8), kernels.Shape{M: 8, N: 8192, K: 8192, BlockSize: 64}, 0.995, ""},
	{gemvTC(8), kernels.Shape{M: 8, N: 11008, K: 4096, BlockSize: 64}, 0.846, ""},
	{gemvTC(8), kernels.Shape{M: 8, N: 4096, K: 11008, BlockSize: 64}, 0.858, ""},
	{gemvTC(8), kernels.Shape{M: 8, N: 14336, K: 4096, BlockSize: 64}, 0.870, ""},
	{gemvTC(5), kernels.Shape{M: 5, N: 11008, K: 4096, BlockSize: 64}, 0.896, ""},
	{gemvTC(8), kernels.Shape{M: 8, N: 4096, K: 4096, BlockSize: 64}, 0.995, "h100"},
	{gemvTC(8), kernels.Shape{M: 8, N: 11008, K: 4096, BlockSize: 64}, 0.995, "h100"},
	{gemvTC(8), kernels.Shape{M: 8, N: 4096, K: 11008, BlockSize: 64}, 0.995, "h100"},
	{gemmF32(false), kernels.Shape{M: 512, N: 4096, K: 4096, BlockSize: 64}, 0.387, ""},
	{gemmF32(true), kernels.Shape{M: 512, N: 4096, K: 4096, BlockSize: 64}, 0.254, ""},
	{gemmTCTransposed, kernels.Shape{M: 512, N: 4096, K: 4096, BlockSize: 64}, 0.321, ""},
	// The tensor-core GEMM (x rounded to bf16 on the host, copied with
	// cp.async): 60% of the mma.sync rate is 37.2% here, which the last
	// waves of 11008 and 14336 rows at M = 512 must clear too.
	{gemmTC, kernels.Shape{M: 512, N: 4096, K: 4096, BlockSize: 64}, 0.472, ""},
	{gemmTC, kernels.Shape{M: 4096, N: 8192, K: 8192, BlockSize: 64}, 0.479, ""},
	{gemmTC, kernels.Shape{M: 512, N: 11008, K: 4096, BlockSize: 64}, 0.423, ""},
	{gemmTC, kernels.Shape{M: 512, N: 14336, K: 4096, BlockSize: 64}, 0.413, ""},
	{gemmTC, kernels.Shape{M: 512, N: 11008, K: 4096, BlockSize: 64}, 0.423, "h100"},
	{gemmTC, kernels.Shape{M: 512, N: 14336, K: 4096, BlockSize: 64}, 0.413, "h100"},
	// The sm_90a warpgroup GEMM (wgmma at the full tensor rate, x by
	// tensor copies), its rows per block and split as the planner picks
	// them: 256 rows wherever M is over one 128-row tile, L2-bound.
	{gemmWG, kernels.Shape{M: 512, N: 4096, K: 4096, BlockSize: 64}, 0.752, ""},
	{gemmWG, kernels.Shape{M: 512, N: 8192, K: 8192, BlockSize: 64}, 0.772, ""},
	{gemmWG, kernels.Shape{M: 768, N: 4096, K: 4096, BlockSize: 64}, 0.752, ""},
	{gemmWG, kernels.Shape{M: 1024, N: 4096, K: 11008, BlockSize: 64}, 0.777, ""},
	{gemmWG, kernels.Shape{M: 256, N: 14336, K: 4096, BlockSize: 64}, 0.752, ""},
	{gemmWG, kernels.Shape{M: 200, N: 11008, K: 4096, BlockSize: 64}, 0.728, ""},
	{gemmWG, kernels.Shape{M: 512, N: 4096, K: 11008, BlockSize: 64}, 0.778, ""},
	{gemmWG, kernels.Shape{M: 512, N: 11008, K: 4096, BlockSize: 64}, 0.752, ""},
	{gemmWG, kernels.Shape{M: 512, N: 14336, K: 4096, BlockSize: 64}, 0.752, ""},
	// Under a wave split along K (WGSplitsFor), 256 rows per block above
	// M = 128: ahead of the split GemmTC at every M.
	{gemmWG, kernels.Shape{M: 32, N: 4096, K: 4096, BlockSize: 64}, 0.407, ""},
	{gemmWG, kernels.Shape{M: 64, N: 11008, K: 4096, BlockSize: 64}, 0.478, ""},
	{gemmWG, kernels.Shape{M: 128, N: 4096, K: 4096, BlockSize: 64}, 0.591, ""},
	{gemmWG, kernels.Shape{M: 256, N: 4096, K: 4096, BlockSize: 64}, 0.715, ""},
	{gemmWG, kernels.Shape{M: 128, N: 14336, K: 4096, BlockSize: 64}, 0.590, ""}, // unsplit
	{gemmWG, kernels.Shape{M: 32, N: 14336, K: 4096, BlockSize: 64}, 0.413, ""},
	{gemmWG, kernels.Shape{M: 4096, N: 4096, K: 4096, BlockSize: 64}, 0.752, ""},
	{gemmWG, kernels.Shape{M: 4096, N: 8192, K: 8192, BlockSize: 64}, 0.772, ""},
	{gemmWG, kernels.Shape{M: 4096, N: 4096, K: 11008, BlockSize: 64}, 0.778, ""},
	{gemmWG, kernels.Shape{M: 4096, N: 11008, K: 4096, BlockSize: 64}, 0.752, ""},
	{gemmWG, kernels.Shape{M: 4096, N: 14336, K: 4096, BlockSize: 64}, 0.752, ""},
	{gemmWG, kernels.Shape{M: 512, N: 4096, K: 4096, BlockSize: 64}, 0.752, "h100"},
	{gemmWG, kernels.Shape{M: 4096, N: 14336, K: 4096, BlockSize: 64}, 0.752, "h100"},
	// M = 9…16 in the bf16 mode: the tensor-core gemv with two B tiles,
	// bound by x re-read from L2 by every block at M = 16. Floors half a
	// point under today's fractions.
	{gemvTC(9), kernels.Shape{M: 9, N: 4096, K: 4096, BlockSize: 64}, 0.803, ""},
	{gemvTC(16), kernels.Shape{M: 16, N: 4096, K: 4096, BlockSize: 64}, 0.582, ""},
	{gemvTC(16), kernels.Shape{M: 16, N: 8192, K: 8192, BlockSize: 64}, 0.582, ""},
	{gemvTC(16), kernels.Shape{M: 16, N: 11008, K: 4096, BlockSize: 64}, 0.636, ""},
	{gemvTC(16), kernels.Shape{M: 16, N: 4096, K: 11008, BlockSize: 64}, 0.586, ""},
	{gemvTC(16), kernels.Shape{M: 16, N: 14336, K: 4096, BlockSize: 64}, 0.620, ""},
	{gemvTC(16), kernels.Shape{M: 16, N: 4096, K: 4096, BlockSize: 64}, 0.836, "h100"},
	{gemvTC(16), kernels.Shape{M: 16, N: 11008, K: 4096, BlockSize: 64}, 0.914, "h100"},
	// M = 17…256 with tiles under a wave: the GEMMs split along the
	// reduction as the backend picks (TCSplitsFor), issue-bound by the W
	// decode at M ≤ 64. Floors half a point under today's fractions.
	{gemmTCFor(false), kernels.Shape{M: 32, N: 4096, K: 4096, BlockSize: 64}, 0.268, ""},
	{gemmTCFor(true), kernels.Shape{M: 32, N: 4096, K: 4096, BlockSize: 64}, 0.211, ""},
	{gemmTCFor(false), kernels.Shape{M: 64, N: 11008, K: 4096, BlockSize: 64}, 0.285, ""},
	{gemmTCFor(true), kernels.Shape{M: 64, N: 11008, K: 4096, BlockSize: 64}, 0.239, ""},
	{gemmTCFor(false), kernels.Shape{M: 128, N: 4096, K: 4096, BlockSize: 64}, 0.431, ""},
	{gemmTCFor(true), kernels.Shape{M: 128, N: 4096, K: 4096, BlockSize: 64}, 0.303, ""},
	{gemmTCFor(false), kernels.Shape{M: 128, N: 14336, K: 4096, BlockSize: 64}, 0.409, ""}, // unsplit
	{gemmTCFor(true), kernels.Shape{M: 128, N: 14336, K: 4096, BlockSize: 64}, 0.320, ""},
	{gemmTCFor(false), kernels.Shape{M: 256, N: 4096, K: 4096, BlockSize: 64}, 0.455, ""},
	{gemmTCFor(false), kernels.Shape{M: 32, N: 14336, K: 4096, BlockSize: 64}, 0.258, ""}, // unsplit
	{gemmTCFor(false), kernels.Shape{M: 32, N: 8192, K: 8192, BlockSize: 64}, 0.416, "h100"},
	{gemmTCFor(true), kernels.Shape{M: 32, N: 8192, K: 8192, BlockSize: 64}, 0.321, "h100"},
}

func dequantizeF32(kernels.Shape, Device) (kernels.Kernel, error) {
	return kernels.NewDequantize(kernels.OutF32, 64, false)
}
func dequantizeBF16(kernels.Shape, Device) (kernels.Kernel, error) {
	return kernels.NewDequantize(kernels.OutBF16, 64, false)
}
func gemmTC(kernels.Shape, Device) (kernels.Kernel, error) { return kernels.NewGemmTC(64, false) }

// gemmWG is the sm_90a GEMM the planner picks on compute capability 9.0.
func gemmWG(s kernels.Shape, d Device) (kernels.Kernel, error) {
	return kernels.NewGemmWGFor(s.M, s.N, s.K, int(d.SMs.V), 64, false)
}
func gemmTCTransposed(kernels.Shape, Device) (kernels.Kernel, error) {
	return kernels.NewGemmTCTransposed(64, false)
}

// gemmTCFor is the tensor-core GEMM the CUDA backend launches: split
// along the reduction where its tiles are under a wave of the device.
func gemmTCFor(transposed bool) func(kernels.Shape, Device) (kernels.Kernel, error) {
	return func(s kernels.Shape, d Device) (kernels.Kernel, error) {
		if transposed {
			return kernels.NewGemmTCTransposedFor(s.M, s.N, s.K, int(d.SMs.V), 64, false)
		}
		return kernels.NewGemmTCFor(s.M, s.N, s.K, int(d.SMs.V), 64, false)
	}
}

// gemv is the kernel the CUDA backend launches: its rows per block chosen
// for the shape on the device's SMs.
func gemv(m int) func(kernels.Shape, Device) (kernels.Kernel, error) {
	return func(s kernels.Shape, d Device) (kernels.Kernel, error) {
		return kernels.NewGemvFor(m, s.N, int(d.SMs.V), 64, false)
	}
}

// gemvTC is the bf16 gemv the CUDA backend launches for M = 2…8.
func gemvTC(m int) func(kernels.Shape, Device) (kernels.Kernel, error) {
	return func(s kernels.Shape, d Device) (kernels.Kernel, error) {
		return kernels.NewGemvTCFor(m, s.N, int(d.SMs.V), 64, false)
	}
}
func gemmF32(t bool) func(kernels.Shape, Device) (kernels.Kernel, error) {
	return func(kernels.Shape, Device) (kernels.Kernel, error) { return kernels.NewGemm(64, false, t) }
}

func TestBudgets(t *testing.T) {
	ptxas.RequireCUDA12(t)
	if raceDetector {
		// The model is deterministic: the plain go test run checks the
		// budgets; under the race detector they would only repeat it,
		// ten times slower (AnalyzeAll's concurrency is raced in
		// kernels/cmd/ptxdump's tests).
		t.Skip("budgets are checked by the plain (non -race) test run")
	}
	for _, b := range budgets {
		d := H200()
		if b.device != "" {
			var err error
			if d, err = DeviceByName(b.device); err != nil {
				t.Fatal(err)
			}
		}
		k, err := b.kernel(b.shape, d)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("%s/%s/M%d_%dx%d", k.Name(), d.Key, b.shape.M, b.shape.N, b.shape.K), func(t *testing.T) {
			r, err := Analyze(k, b.shape, d)
			if err != nil {
				t.Fatal(err)
			}
			p := r.Prediction
			if p.Fraction < b.floor {
				t.Errorf("predicted %.1f%% of %s (%.4g µs, bound by %s), below its budget of %.1f%%",
					100*p.Fraction, p.Limit, p.Seconds*1e6, p.Binding, 100*b.floor)
			}
			if now := math.Floor(p.Fraction*1000) / 1000; now > b.floor+0.005 {
				t.Logf("predicted %.1f%% of %s: raise the floor to %.3f", 100*p.Fraction, p.Limit, now)
			}
		})
	}
}
