package cudaplan

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nf4go/nf4/cpu"
	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptx"
	"github.com/nf4go/nf4/kernels/ptxsim"
	"github.com/nf4go/nf4/kernels/tensormap"
)

func TestChoose(t *testing.T) {
	cases := []struct {
		p    Problem
		name string
		grid [3]int
	}{
		{Problem{Op: Forward, M: 1, N: 4096, K: 4096, BlockSize: 64}, "nf4_gemv_m1_b64", [3]int{256, 1, 1}},
		{Problem{Op: Forward, M: 3, N: 7, K: 11008, BlockSize: 64}, "nf4_gemv_m3_b64", [3]int{1, 1, 1}},
		// 14 rows per block fill the last wave on 132 SMs; 16 would not.
		{Problem{Op: Forward, M: 1, N: 11008, K: 4096, BlockSize: 64, SMs: 132}, "nf4_gemv_m1_r14_b64", [3]int{787, 1, 1}},
		{Problem{Op: Forward, M: 1, N: 11008, K: 4096, BlockSize: 64}, "nf4_gemv_m1_b64", [3]int{688, 1, 1}},
		{Problem{Op: Forward, M: 1, N: 4096, K: 4096, BlockSize: 64, SMs: 132}, "nf4_gemv_m1_b64", [3]int{256, 1, 1}},
		// M = 8: 16 rows per block (lane groups), the last block part-filled.
		{Problem{Op: Forward, M: 8, N: 40, K: 64, BlockSize: 64, DoubleQuant: true}, "nf4_gemv_m8_b64_dq", [3]int{3, 1, 1}},
		// bf16: M = 2…8 on tensor cores, 16-row tiles, M = 1 on the float32 gemv.
		{Problem{Op: Forward, Mode: BF16, M: 8, N: 10, K: 64, BlockSize: 64, DoubleQuant: true}, "nf4_gemv_tc_m8_b64_dq", [3]int{1, 1, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 2, N: 4096, K: 4096, BlockSize: 64, SMs: 132}, "nf4_gemv_tc_m2_b64", [3]int{128, 1, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 5, N: 8192, K: 8192, BlockSize: 64, SMs: 132}, "nf4_gemv_tc_m5_t4_b64", [3]int{128, 1, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 1, N: 4096, K: 4096, BlockSize: 64}, "nf4_gemv_m1_b64", [3]int{256, 1, 1}},
		{Problem{Op: Forward, M: 9, N: 65, K: 128, BlockSize: 32}, "nf4_gemm_f32_b32", [3]int{2, 1, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 129, N: 64, K: 4096, BlockSize: 4096}, "nf4_gemm_bf16tc_b4096", [3]int{1, 2, 1}},
		// bf16 M = 9…16: the tensor-core gemv with two B tiles.
		{Problem{Op: Forward, Mode: BF16, M: 16, N: 4096, K: 4096, BlockSize: 64, SMs: 132}, "nf4_gemv_tc_m16_b64", [3]int{128, 1, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 9, N: 4096, K: 4096, BlockSize: 32, SMs: 132}, "nf4_gemv_tc_m9_b32", [3]int{256, 1, 1}},
		// Tiles under a wave of 132 SMs split the reduction over grid.z;
		// unknown SMs, or tiles enough for every SM, do not.
		{Problem{Op: Forward, Mode: BF16, M: 17, N: 4096, K: 4096, BlockSize: 64, SMs: 132}, "nf4_gemm_bf16tc_sk_b64", [3]int{32, 1, 4}},
		{Problem{Op: Forward, Mode: BF16, M: 100, N: 11008, K: 4096, BlockSize: 64, SMs: 132}, "nf4_gemm_bf16tc_sk_b64", [3]int{86, 1, 3}},
		{Problem{Op: Backward, Mode: BF16, M: 16, N: 4096, K: 4096, BlockSize: 64, SMs: 132}, "nf4_gemm_t_bf16tc_sk_b64", [3]int{32, 1, 4}},
		{Problem{Op: Forward, Mode: BF16, M: 17, N: 4096, K: 4096, BlockSize: 64}, "nf4_gemm_bf16tc_b64", [3]int{32, 1, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 512, N: 4096, K: 4096, BlockSize: 64, SMs: 132}, "nf4_gemm_bf16tc_b64", [3]int{32, 4, 1}},
		{Problem{Op: Backward, M: 1, N: 100, K: 256, BlockSize: 64}, "nf4_gemm_t_f32_b64", [3]int{4, 1, 1}},
		{Problem{Op: Backward, Mode: BF16, M: 512, N: 100, K: 256, BlockSize: 64, DoubleQuant: true}, "nf4_gemm_t_bf16tc_b64_dq", [3]int{2, 4, 1}},
		{Problem{Op: Backward, Mode: BF16, M: 8, N: 100, K: 256, BlockSize: 64}, "nf4_gemm_t_f32_b64", [3]int{4, 1, 1}},
		{Problem{Op: Backward, M: 512, N: 100, K: 256, BlockSize: 64}, "nf4_gemm_t_f32_b64", [3]int{4, 8, 1}},
		{Problem{Op: Dequantize, N: 3, K: 64, BlockSize: 64}, "nf4_dequantize_f32_b64", [3]int{1, 1, 1}},
		{Problem{Op: Dequantize, N: 4096, K: 4096, BlockSize: 128}, "nf4_dequantize_f32_b128", [3]int{2048, 1, 1}},
		// Compute capability 9.0 exactly: the sm_90a warpgroup GEMM in the
		// bf16 mode above the gemv's rows, 256 x rows per block where that
		// still fills 132 SMs or M is over one 128-row tile, 128 else;
		// split along K under a wave; on a 9.0 whose SM count is unknown
		// only at 128 rows, unsplit.
		{Problem{Op: Forward, Mode: BF16, M: 512, N: 4096, K: 4096, BlockSize: 64, SMs: 132, Arch: 90, TensorMaps: true}, "nf4_gemm_bf16wg_b64_n256", [3]int{32, 2, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 256, N: 4096, K: 4096, BlockSize: 64, SMs: 132, Arch: 90, TensorMaps: true}, "nf4_gemm_bf16wg_sk_b64_n256", [3]int{32, 1, 2}},
		{Problem{Op: Forward, Mode: BF16, M: 128, N: 4096, K: 4096, BlockSize: 64, SMs: 132, Arch: 90, TensorMaps: true}, "nf4_gemm_bf16wg_sk_b64", [3]int{32, 1, 4}},
		{Problem{Op: Forward, Mode: BF16, M: 32, N: 4096, K: 4096, BlockSize: 64, SMs: 132, Arch: 90, TensorMaps: true}, "nf4_gemm_bf16wg_sk_b64", [3]int{32, 1, 8}},
		{Problem{Op: Forward, Mode: BF16, M: 128, N: 14336, K: 4096, BlockSize: 64, SMs: 132, Arch: 90, TensorMaps: true}, "nf4_gemm_bf16wg_b64", [3]int{112, 1, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 4096, N: 4096, K: 4096, BlockSize: 64, SMs: 132, Arch: 90, TensorMaps: true}, "nf4_gemm_bf16wg_b64_n256", [3]int{32, 16, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 512, N: 11008, K: 4096, BlockSize: 64, SMs: 132, Arch: 90, TensorMaps: true, DoubleQuant: true}, "nf4_gemm_bf16wg_b64_n256_dq", [3]int{86, 2, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 17, N: 65, K: 128, BlockSize: 32, Arch: 90, TensorMaps: true}, "nf4_gemm_bf16wg_b32", [3]int{1, 1, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 512, N: 4096, K: 4096, BlockSize: 64, SMs: 132, Arch: 89}, "nf4_gemm_bf16tc_b64", [3]int{32, 4, 1}},
		// A driver before CUDA 12 cannot encode the tensor maps.
		{Problem{Op: Forward, Mode: BF16, M: 512, N: 4096, K: 4096, BlockSize: 64, SMs: 132, Arch: 90}, "nf4_gemm_bf16tc_b64", [3]int{32, 4, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 512, N: 4096, K: 4096, BlockSize: 64, SMs: 132, Arch: 100}, "nf4_gemm_bf16tc_b64", [3]int{32, 4, 1}},
		{Problem{Op: Forward, Mode: BF16, M: 8, N: 4096, K: 4096, BlockSize: 64, SMs: 132, Arch: 90}, "nf4_gemv_tc_m8_b64", [3]int{128, 1, 1}},
		{Problem{Op: Forward, M: 512, N: 100, K: 256, BlockSize: 64, Arch: 90}, "nf4_gemm_f32_b64", [3]int{2, 8, 1}},
		{Problem{Op: Backward, Mode: BF16, M: 512, N: 100, K: 256, BlockSize: 64, Arch: 90}, "nf4_gemm_t_bf16tc_b64", [3]int{2, 4, 1}},
	}
	for _, c := range cases {
		pl, err := Choose(c.p)
		if err != nil {
			t.Fatalf("%v: %v", c.p, err)
		}
		if got := pl.Kernel.Name(); got != c.name || pl.Launch.Grid != c.grid {
			t.Errorf("%v: kernel %s grid %v, want %s grid %v", c.p, got, pl.Launch.Grid, c.name, c.grid)
		}
		if pl.Launch.Block[0] < 32 || pl.Launch.Block[0]%32 != 0 {
			t.Errorf("%v: block %v is not whole warps", c.p, pl.Launch.Block)
		}
	}
}

// TestChooseSplitWorkspace checks the split plans' workspace: S·M·cols
// float32 partial sums and a counter per output tile, passed as the
// parameter "workspace"; unsplit plans have none.
func TestChooseSplitWorkspace(t *testing.T) {
	for _, p := range []Problem{
		{Op: Forward, Mode: BF16, M: 17, N: 4096, K: 4096, BlockSize: 64, SMs: 132},
		{Op: Forward, Mode: BF16, M: 70, N: 4000, K: 11008, BlockSize: 64, DoubleQuant: true, SMs: 132},
		{Op: Backward, Mode: BF16, M: 33, N: 11008, K: 4096, BlockSize: 64, SMs: 114},
		{Op: Forward, Mode: BF16, M: 512, N: 4096, K: 4096, BlockSize: 64, SMs: 132},
		{Op: Forward, Mode: BF16, M: 70, N: 4000, K: 4096, BlockSize: 64, SMs: 132, Arch: 90, TensorMaps: true},
		{Op: Forward, Mode: BF16, M: 200, N: 4096, K: 11008, BlockSize: 64, DoubleQuant: true, SMs: 132, Arch: 90, TensorMaps: true},
	} {
		pl, err := Choose(p)
		if err != nil {
			t.Fatal(err)
		}
		l := pl.Launch
		cols := p.N
		if p.Op == Backward {
			cols = p.K
		}
		want := 0
		if l.Grid[2] > 1 {
			want = 4 * (l.Grid[2]*p.M*cols + l.Grid[0]*l.Grid[1])
		}
		if l.Workspace != want {
			t.Errorf("%v: workspace %d bytes, want %d", p, l.Workspace, want)
		}
		if got := slices.Contains(pl.Kernel.Params(), "workspace"); got != (want > 0) {
			t.Errorf("%v: parameter workspace %v, want %v", p, got, want > 0)
		}
	}
}

func TestChooseRejects(t *testing.T) {
	for _, p := range []Problem{
		{Op: Forward, M: 0, N: 1, K: 64, BlockSize: 64},
		{Op: Forward, M: 1, N: 0, K: 64, BlockSize: 64},
		{Op: Forward, M: 1, N: 1, K: 96, BlockSize: 64},  // K not a multiple of B
		{Op: Backward, M: 1, N: 1, K: 96, BlockSize: 48}, // not a block size
		{Op: Forward, M: 1, N: 1 << 20, K: 1 << 14, BlockSize: 64},
		{Op: Forward, Mode: Mode(7), M: 100, N: 1, K: 64, BlockSize: 64},
		{Op: Op(9), M: 1, N: 1, K: 64, BlockSize: 64},
	} {
		if _, err := Choose(p); !errors.Is(err, ErrShape) {
			t.Errorf("%v: error %v, want ErrShape", p, err)
		}
	}
}

func TestTarget(t *testing.T) {
	for _, c := range []struct{ major, minor, want int }{
		{8, 0, 80}, {8, 6, 86}, {8, 7, 87}, {8, 9, 89}, {9, 0, 90}, {10, 0, 90}, {12, 1, 90},
	} {
		tg, err := Target(c.major, c.minor)
		if err != nil || tg.SM != c.want {
			t.Errorf("Target(%d, %d) = %v, %v; want sm_%d", c.major, c.minor, tg, err, c.want)
		}
	}
	for _, c := range [][2]int{{7, 5}, {6, 1}, {0, 0}} {
		if tg, err := Target(c[0], c[1]); err == nil {
			t.Errorf("Target(%d, %d) = %v, want an error", c[0], c[1], tg)
		}
	}
}

func TestUseDevice(t *testing.T) {
	if !UseDevice(1, 0) || !UseDevice(DefaultThreshold, DefaultThreshold) || UseDevice(DefaultThreshold-1, DefaultThreshold) {
		t.Error("UseDevice does not split at the threshold")
	}
}

func TestProblemSizes(t *testing.T) {
	p := Problem{Op: Forward, M: 3, N: 5, K: 64}
	if p.InLen() != 192 || p.OutLen() != 15 || p.MACs() != 960 {
		t.Errorf("forward sizes %d %d %d", p.InLen(), p.OutLen(), p.MACs())
	}
	p.Op = Backward
	if p.InLen() != 15 || p.OutLen() != 192 || p.MACs() != 960 {
		t.Errorf("backward sizes %d %d %d", p.InLen(), p.OutLen(), p.MACs())
	}
	p.Op = Dequantize
	if p.InLen() != 0 || p.OutLen() != 320 || p.MACs() != 0 {
		t.Errorf("dequantize sizes %d %d %d", p.InLen(), p.OutLen(), p.MACs())
	}
	for _, s := range []string{p.String(), Problem{Op: Backward, M: 2, N: 3, K: 64, BlockSize: 64, DoubleQuant: true}.String()} {
		if !strings.Contains(s, "64") {
			t.Errorf("Problem.String() = %q", s)
		}
	}
}

// renamed wraps a kernel to change its parameter list.
type renamed struct {
	kernels.Kernel
	params []string
}

func (r renamed) Params() []string { return r.params }

func TestArgsErrors(t *testing.T) {
	pl, err := Choose(Problem{Op: Forward, M: 1, N: 1, K: 64, BlockSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	b := Buffers{In: 1 << 20, Out: 2 << 20, Codes: 3 << 20, Absmax: 4 << 20}
	if _, err := pl.Args(b); err != nil {
		t.Fatal(err)
	}
	bad := pl
	bad.Kernel = renamed{pl.Kernel, append(pl.Kernel.Params(), "stride")}
	if _, err := bad.Args(b); err == nil || !strings.Contains(err.Error(), "stride") {
		t.Errorf("unknown parameter: error %v", err)
	}
	b.Absmax = 0
	if _, err := pl.Args(b); err == nil || !strings.Contains(err.Error(), "absmax") {
		t.Errorf("missing scales: error %v", err)
	}
}

// mapped wraps a kernel to take x through a tensor map.
type mapped struct {
	kernels.Kernel
	box uint32
}

func (m mapped) Params() []string {
	return append([]string{"x_map"}, m.Kernel.Params()[1:]...)
}

func (m mapped) TensorMap(param string, s kernels.Shape, base uint64) (tensormap.Map2D, error) {
	if param != "x_map" {
		return tensormap.Map2D{}, fmt.Errorf("no map %q", param)
	}
	return tensormap.Map2D{Base: base, Elem: tensormap.BFloat16, Cols: uint64(s.K), Rows: uint64(s.M),
		RowStride: 2 * uint64(s.K), BoxCols: m.box, BoxRows: 64, Swizzle: tensormap.Swizzle128B}, nil
}

func TestArgsTensorMap(t *testing.T) {
	pl, err := Choose(Problem{Op: Forward, Mode: BF16, M: 70, N: 96, K: 192, BlockSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	b := Buffers{In: 1 << 20, Out: 2 << 20, Codes: 3 << 20, Absmax: 4 << 20}
	plain := pl.Kernel
	pl.Kernel = mapped{plain, 64}
	if !pl.InBF16() {
		t.Error("a kernel reading x through a tensor map does not take x as bf16")
	}
	args, err := pl.Args(b)
	if err != nil {
		t.Fatal(err)
	}
	want := tensormap.Map2D{Base: 1 << 20, Elem: tensormap.BFloat16, Cols: 192, Rows: 70, RowStride: 384,
		BoxCols: 64, BoxRows: 64, Swizzle: tensormap.Swizzle128B}
	if args[0].Map == nil || *args[0].Map != want || args[0].Bits != 0 {
		t.Errorf("x_map argument %+v, want the map %v", args[0], want)
	}
	if args[1].Map != nil || args[1].Bits != b.Codes {
		t.Errorf("codes argument %+v", args[1])
	}
	b.In = 0
	if _, err := pl.Args(b); err == nil || !strings.Contains(err.Error(), "x_map") {
		t.Errorf("a map over address 0: %v", err)
	}
	b.In = 1 << 20
	// 128 bytes of bf16 rows are the 128-byte swizzle's span; 256 are not.
	pl.Kernel = mapped{plain, 128}
	if _, err := pl.Args(b); !errors.Is(err, tensormap.ErrInvalid) {
		t.Errorf("a map the driver would refuse: %v", err)
	}
	pl.Kernel = renamed{plain, append([]string{"x_map"}, plain.Params()[1:]...)}
	if _, err := pl.Args(b); err == nil || !strings.Contains(err.Error(), "no tensor maps") {
		t.Errorf("x_map on a kernel without maps: %v", err)
	}
	pl.Kernel = renamed{plain, append(plain.Params(), "workspace")}
	if _, err := pl.Args(b); err == nil || !strings.Contains(err.Error(), `"workspace" is zero`) {
		t.Errorf("a missing workspace: %v", err)
	}
}

// simArgs is args as the simulator takes them: 8-byte values as they are,
// a tensor map encoded into device memory and passed by that address.
func simArgs(t *testing.T, dev *ptxsim.Device, args []Arg) []uint64 {
	t.Helper()
	v := make([]uint64, len(args))
	for i, a := range args {
		v[i] = a.Bits
		if a.Map == nil {
			continue
		}
		enc, err := a.Map.Encode()
		if err != nil {
			t.Fatalf("argument %d: %v", i, err)
		}
		p := dev.Alloc(len(enc))
		if err := dev.Write(p, enc[:]); err != nil {
			t.Fatal(err)
		}
		v[i] = uint64(p)
	}
	return v
}

func upload(t *testing.T, dev *ptxsim.Device, w cpu.Weights) Buffers {
	t.Helper()
	put := func(b []byte) uint64 {
		p := dev.Alloc(len(b))
		if err := dev.Write(p, b); err != nil {
			t.Fatal(err)
		}
		return uint64(p)
	}
	b := Buffers{Codes: put(w.Codes)}
	if s := w.Scales; s.Double() {
		b.Q = put(s.Q)
		b.Map = put(f32bytes(s.Map[:]))
		b.Nested = put(f32bytes(s.Nested))
		b.Offset = s.Offset
	} else {
		b.Absmax = put(f32bytes(s.Absmax))
	}
	return b
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		u := math.Float32bits(f)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return b
}

func randn(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func quantized(t *testing.T, r *rand.Rand, n, k, b int, dq bool) cpu.Weights {
	t.Helper()
	src := randn(r, n*k)
	w := cpu.Weights{Rows: n, Cols: k, BlockSize: b, Codes: make([]byte, n*k/2)}
	absmax := make([]float32, n*k/b)
	if err := cpu.Quantize(w.Codes, absmax, src, n, k, b); err != nil {
		t.Fatal(err)
	}
	w.Scales = cpu.Scales{Absmax: absmax}
	if dq {
		w.Scales = cpu.DoubleQuantize(absmax)
	}
	return w
}

// TestLaunchMatchesCPU packs each launch exactly as the device engine does
// (Choose, then Args), runs it in the PTX simulator with the plan's
// geometry on NaN-poisoned outputs, and compares with the CPU kernels.
// A parameter in the wrong slot, a size in the wrong unit or a grid that
// misses a tile fails here.
func TestLaunchMatchesCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	shapes := []struct{ M, N, K, B int }{
		{1, 1, 64, 64},
		{3, 7, 96, 32},
		{8, 5, 128, 64},
		{9, 70, 128, 64},
		{17, 3, 256, 128},
		{130, 65, 64, 64},
		// gemv: N not a multiple of a block's rows, K over one
		// 1024-weight step and not a multiple of it.
		{1, 9, 1344, 64},
		{2, 5, 4160, 64},
		{7, 3, 2112, 32},
		// gemv on tensor cores: N over one block's tiles and not a
		// multiple of 16, K not a multiple of the 128-weight unit.
		{2, 37, 640, 64},
		{8, 19, 1152, 32},
		// Two B tiles of the batch (M = 9…16 in the bf16 mode).
		{16, 37, 640, 64},
		{12, 19, 1152, 32},
		// Split along K on 132 SMs: 10 steps in two ranges.
		{33, 70, 640, 64},
	}
	for _, s := range shapes {
		for _, dq := range []bool{false, true} {
			w := quantized(t, r, s.N, s.K, s.B, dq)
			for _, op := range []Op{Forward, Backward, Dequantize} {
				modes := []Mode{Float32}
				if (op == Forward && s.M >= kernels.MinGemvTCM) || (op == Backward && s.M > kernels.MaxGemvM) {
					modes = append(modes, BF16)
				}
				for _, mode := range modes {
					p := Problem{Op: op, Mode: mode, M: s.M, N: s.N, K: s.K, BlockSize: s.B, DoubleQuant: dq}
					checkLaunch(t, r, p, w)
					if op == Forward && mode == BF16 && s.M > kernels.MaxGemvTCM {
						// On 9.0 with tensor maps: the warpgroup GEMM.
						p.Arch, p.TensorMaps = 90, true
						checkLaunch(t, r, p, w)
						// On 132 SMs, split along K where the steps allow.
						p.SMs = 132
						checkLaunch(t, r, p, w)
						p.Arch, p.TensorMaps, p.SMs = 0, false, 0
					}
					if op == Forward && (s.M <= kernels.MaxGemvM || mode == BF16 && s.M <= kernels.MaxGemvTCM) {
						// On 2 SMs the gemv takes fewer rows per block.
						p.SMs = 2
						checkLaunch(t, r, p, w)
					}
				}
			}
		}
	}
}

func checkLaunch(t *testing.T, r *rand.Rand, p Problem, w cpu.Weights) {
	t.Helper()
	pl, err := Choose(p)
	if err != nil {
		t.Fatal(err)
	}
	dev := ptxsim.NewDevice()
	b := upload(t, dev, w)
	in := randn(r, p.InLen())
	if len(in) > 0 && pl.InBF16() {
		h := make([]uint16, len(in))
		ToBF16(h, in)
		raw := make([]byte, 2*len(h))
		for i, v := range h {
			raw[2*i], raw[2*i+1] = byte(v), byte(v>>8)
		}
		b.In = uint64(dev.Alloc(len(raw)))
		if err := dev.Write(ptxsim.Ptr(b.In), raw); err != nil {
			t.Fatal(err)
		}
	} else if len(in) > 0 {
		b.In = uint64(dev.Alloc(4 * len(in)))
		if err := dev.WriteFloat32s(ptxsim.Ptr(b.In), in); err != nil {
			t.Fatal(err)
		}
	}
	poison := make([]float32, p.OutLen())
	for i := range poison {
		poison[i] = float32(math.NaN())
	}
	b.Out = uint64(dev.Alloc(4 * len(poison)))
	if err := dev.WriteFloat32s(ptxsim.Ptr(b.Out), poison); err != nil {
		t.Fatal(err)
	}
	if pl.Launch.Workspace > 0 {
		// Zeroed once, as the engine does at allocation.
		b.Workspace = uint64(dev.Alloc(pl.Launch.Workspace))
		if err := dev.Write(ptxsim.Ptr(b.Workspace), make([]byte, pl.Launch.Workspace)); err != nil {
			t.Fatal(err)
		}
	}
	args, err := pl.Args(b)
	if err != nil {
		t.Fatal(err)
	}
	target := ptx.SM80
	if p.Arch == 90 {
		target = ptx.SM90
	}
	src, err := pl.Kernel.PTX(target)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := ptxsim.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	k, err := mod.Kernel(pl.Kernel.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Launch(k, pl.Launch.Grid, pl.Launch.Block, pl.Launch.DynamicShared, simArgs(t, dev, args)...); err != nil {
		t.Fatalf("%v: %v", p, err)
	}
	got, err := dev.ReadFloat32s(ptxsim.Ptr(b.Out), p.OutLen())
	if err != nil {
		t.Fatal(err)
	}
	want, scale := reference(t, p, in, &w)
	tol := 1e-5
	if p.Op != Dequantize && p.Mode == BF16 && ((p.Op == Forward && p.M >= kernels.MinGemvTCM) || p.M > kernels.MaxGemvM) {
		tol = 1e-2
	}
	var num, den float64
	for i := range got {
		if math.IsNaN(float64(got[i])) {
			t.Fatalf("%v (%s): output %d never written", p, pl.Kernel.Name(), i)
		}
		d := float64(got[i]) - want[i]
		num += d * d
		den += scale[i] * scale[i]
	}
	if e := math.Sqrt(num / den); e > tol {
		t.Errorf("%v (%s): relative error %.3g > %g", p, pl.Kernel.Name(), e, tol)
	}
}

// reference computes p's result in float64 from W's decoded values, and
// for each output the 2-norm of its terms, the scale its error is measured
// against: for random data about the size of the output itself, but an
// output that cancels to near zero (a single dot product of random values
// can) is still held to the rounding of its terms, not to an ever
// smaller relative error.
func reference(t *testing.T, p Problem, in []float32, w *cpu.Weights) (want, scale []float64) {
	t.Helper()
	N, K := w.Rows, w.Cols
	wd := make([]float64, N*K)
	if err := cpu.Dequantize64(wd, w); err != nil {
		t.Fatal(err)
	}
	switch p.Op {
	case Dequantize:
		scale = make([]float64, len(wd))
		for i, v := range wd {
			scale[i] = math.Abs(v)
		}
		return wd, scale
	case Forward:
		want, scale = make([]float64, p.M*N), make([]float64, p.M*N)
		for i := range p.M {
			for n := range N {
				var s, a float64
				for k := range K {
					v := float64(in[i*K+k]) * wd[n*K+k]
					s, a = s+v, a+v*v
				}
				want[i*N+n], scale[i*N+n] = s, math.Sqrt(a)
			}
		}
	case Backward:
		want, scale = make([]float64, p.M*K), make([]float64, p.M*K)
		for i := range p.M {
			for n := range N {
				dy := float64(in[i*N+n])
				for k := range K {
					v := dy * wd[n*K+k]
					want[i*K+k] += v
					scale[i*K+k] += v * v
				}
			}
		}
		for i, a := range scale {
			scale[i] = math.Sqrt(a)
		}
	}
	return want, scale
}

func TestToBF16(t *testing.T) {
	nan := math.Float32frombits(0x7fa00001) // a signalling NaN
	src := []float32{1, 1 + 1.0/256, 1 + 3.0/256, -2.5, 1e-40, float32(math.Inf(-1)), nan, 3.4e38}
	// 1+1/256 is a tie (rounds to even, down), 1+3/256 a tie rounding up;
	// 1e-40 stays a denormal; 3.4e38 rounds to +Inf.
	want := []uint16{0x3f80, 0x3f80, 0x3f82, 0xc020, 0x0001, 0xff80, 0x7fe0, 0x7f80}
	got := make([]uint16, len(src))
	ToBF16(got, src)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ToBF16(%g) = %#04x, want %#04x", src[i], got[i], want[i])
		}
	}
	k, _ := kernels.NewGemvTC(2, 64, false)
	if pl := (Plan{Kernel: k}); !pl.InBF16() {
		t.Error("the tensor-core gemv does not read bf16 x")
	}
	g, _ := kernels.NewGemv(2, 64, false)
	if pl := (Plan{Kernel: g}); pl.InBF16() {
		t.Error("the float32 gemv reads bf16 x")
	}
	tc, _ := kernels.NewGemmTC(64, false)
	if pl := (Plan{Kernel: tc}); !pl.InBF16() {
		t.Error("the tensor-core GEMM does not read bf16 x")
	}
	wg, _ := kernels.NewGemmWG(64, false)
	if pl := (Plan{Kernel: wg}); !pl.InBF16() {
		t.Error("the warpgroup GEMM does not read bf16 x (through its tensor map)")
	}
	tt, _ := kernels.NewGemmTCTransposed(64, false)
	if pl := (Plan{Kernel: tt}); pl.InBF16() {
		t.Error("the tensor-core backward GEMM reads bf16 dy")
	}
}
