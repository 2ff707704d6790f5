//go:build nf4cuda

package nf4_test

// These tests need a CUDA device (sm_80 or newer): a binary built with
// -tags nf4cuda exits at start without one. They compare every device
// result with the CPU path or a float64 reference, on NaN-poisoned outputs,
// fresh random data and awkward shapes. NF4_TEST_DEVICE picks the device.

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func testDevice(t testing.TB) int {
	s := os.Getenv("NF4_TEST_DEVICE")
	if s == "" {
		return 0
	}
	d, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("NF4_TEST_DEVICE=%q: %v", s, err)
	}
	return d
}

// gpuEngine returns a device engine that sends every product to the
// device (threshold 0). It keeps the default kernel cache
// ($NF4_KERNEL_CACHE, which scripts/gpu-check points at a fresh
// directory), so each kernel is compiled once for the whole run.
func gpuEngine(t testing.TB, opts ...nf4.EngineOption) *nf4.Engine {
	t.Helper()
	all := append([]nf4.EngineOption{nf4.WithDevice(testDevice(t)), nf4.WithCPUThreshold(0)}, opts...)
	e, err := nf4.NewEngine(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

func poisoned(m, n int) *tensor.Dense {
	v := make([]float32, m*n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return tensor.New(tensor.WithShape(m, n), tensor.WithBacking(v))
}

func dense(r *rand.Rand, m, n int) *tensor.Dense {
	return tensor.New(tensor.WithShape(m, n), tensor.WithBacking(randomMatrix(r, m, n)))
}

// matmul64 is out[m,n] = Σ_l a[i,l]·b[l,j] in float64 with b given as
// [kk, n] row-major.
func matmul64(a []float32, b []float32, m, kk, n int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for l := range kk {
			ail := float64(a[i*kk+l])
			for j := range n {
				out[i*n+j] += ail * float64(b[l*n+j])
			}
		}
	}
	return out
}

func noNaN(t *testing.T, what string, v []float32) {
	t.Helper()
	for i, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			t.Fatalf("%s: element %d is %v (never written?)", what, i, f)
		}
	}
}

type devShape struct{ M, N, K, B int }

var devShapes = []devShape{
	{1, 1, 64, 64},
	{1, 3, 32, 32},
	{2, 7, 96, 32},
	{3, 70, 128, 64},
	{5, 257, 192, 64},
	{8, 33, 1280, 64},
	{9, 65, 128, 64},
	{17, 1, 64, 64},
	{64, 96, 256, 128},
	{130, 67, 512, 64},
	{257, 129, 4096, 4096},
	{4, 4096, 4096, 64},
}

func TestDeviceLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, mode := range []nf4.ComputeMode{nf4.ComputeFloat32, nf4.ComputeBF16} {
		e := gpuEngine(t, nf4.WithComputeMode(mode))
		for _, s := range devShapes {
			for _, dq := range []bool{false, true} {
				name := fmt.Sprintf("%v/M%d_N%d_K%d_B%d_dq%v", mode, s.M, s.N, s.K, s.B, dq)
				opts := []nf4.Option{nf4.WithBlockSize(s.B)}
				if dq {
					opts = append(opts, nf4.WithDoubleQuant())
				}
				w, err := nf4.QuantizeFloat32s(randomMatrix(r, s.N, s.K), s.N, s.K, opts...)
				if err != nil {
					t.Fatal(err)
				}
				wd, err := w.Dequantize()
				if err != nil {
					t.Fatal(err)
				}
				wv := wd.Data().([]float32)
				wt := make([]float32, len(wv)) // Wᵀ [K, N]
				for n := range s.N {
					for k := range s.K {
						wt[k*s.N+n] = wv[n*s.K+k]
					}
				}
				x := dense(r, s.M, s.K)
				y := poisoned(s.M, s.N)
				if err := e.LinearInto(y, x, w); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				yv := y.Data().([]float32)
				noNaN(t, name+" forward", yv)
				tol := 1e-5
				if mode == nf4.ComputeBF16 && s.M >= 2 { // tensor cores from M = 2
					tol = 1e-2
				}
				if err := normwise(t, yv, matmul64(x.Data().([]float32), wt, s.M, s.K, s.N)); err > tol {
					t.Errorf("%s forward: relative error %.3g > %g", name, err, tol)
				}

				dy := dense(r, s.M, s.N)
				dx := poisoned(s.M, s.K)
				if err := e.LinearBackwardInto(dx, dy, w); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				dxv := dx.Data().([]float32)
				noNaN(t, name+" backward", dxv)
				if err := normwise(t, dxv, matmul64(dy.Data().([]float32), wv, s.M, s.N, s.K)); err > tol {
					t.Errorf("%s backward: relative error %.3g > %g", name, err, tol)
				}
			}
		}
		if st := e.DeviceStats(); st.Launches < int64(4*len(devShapes)) {
			t.Errorf("%v: only %d launches for %d products: work stayed on the CPU", mode, st.Launches, 4*len(devShapes))
		}
	}
}

func TestDeviceDequantize(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	e := gpuEngine(t)
	for _, s := range devShapes {
		for _, dq := range []bool{false, true} {
			opts := []nf4.Option{nf4.WithBlockSize(s.B)}
			if dq {
				opts = append(opts, nf4.WithDoubleQuant())
			}
			w, err := nf4.QuantizeFloat32s(randomMatrix(r, s.N, s.K), s.N, s.K, opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Dequantize(w)
			if err != nil {
				t.Fatal(err)
			}
			want, err := w.Dequantize()
			if err != nil {
				t.Fatal(err)
			}
			g, wv := got.Data().([]float32), want.Data().([]float32)
			// One float32 multiply (and the same decode of double-quantized
			// scales) on both sides: the results are identical.
			for i := range wv {
				if g[i] != wv[i] {
					t.Fatalf("N%d K%d B%d dq %v: element %d = %v, CPU %v", s.N, s.K, s.B, dq, i, g[i], wv[i])
				}
			}
		}
	}
}

func residentBytes(w *nf4.Tensor) int64 {
	if !w.DoubleQuant() {
		return int64(w.Bytes())
	}
	// The device holds no copy of the float32 offset (a launch argument)
	// but one of the shared 256-entry map, which Bytes leaves out.
	return int64(w.Bytes()) - 4 + 4*256
}

func TestDeviceResidency(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	e := gpuEngine(t)
	w, err := nf4.QuantizeFloat32s(randomMatrix(r, 300, 512), 300, 512, nf4.WithDoubleQuant())
	if err != nil {
		t.Fatal(err)
	}
	x := dense(r, 4, 512)
	if _, err := e.Linear(x, w); err != nil {
		t.Fatal(err)
	}
	st := e.DeviceStats()
	if st.Weights != 1 || st.WeightBytes != residentBytes(w) {
		t.Fatalf("after one product: %+v, want 1 weight of %d bytes", st, residentBytes(w))
	}
	if st.ScratchBytes <= 0 || e.DeviceBytes() != st.WeightBytes+st.ScratchBytes {
		t.Errorf("activation buffers not accounted: %+v, DeviceBytes %d", st, e.DeviceBytes())
	}
	if !strings.HasPrefix(st.Device, "cuda:") || e.Backend() != st.Device {
		t.Errorf("device %q, backend %q", st.Device, e.Backend())
	}
	// Reuse, a clone and the backward pass all use the one upload.
	c := w.Clone().(*nf4.Tensor)
	for _, v := range []*nf4.Tensor{w, c} {
		if _, err := e.Linear(x, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.LinearBackward(dense(r, 4, 300), c); err != nil {
		t.Fatal(err)
	}
	if s := e.DeviceStats(); s.Weights != 1 || s.WeightBytes != st.WeightBytes || s.Launches != st.Launches+3 {
		t.Errorf("after reuse: %+v, want the one weight and three more launches than %+v", s, st)
	}
	if err := e.Release(w); err != nil {
		t.Fatal(err)
	}
	if s := e.DeviceStats(); s.Weights != 0 || s.WeightBytes != 0 {
		t.Errorf("after Release: %+v", s)
	}
	if _, err := e.Linear(x, c); err != nil { // uploads again
		t.Fatal(err)
	}
	if s := e.DeviceStats(); s.Weights != 1 {
		t.Errorf("after a product on a released weight: %+v", s)
	}
}

// A weight nobody references any more is freed on the device at the
// engine's next operation.
func TestDeviceCollectedWeightFreed(t *testing.T) {
	r := rand.New(rand.NewPCG(57, 58))
	e := gpuEngine(t)
	keep, err := nf4.QuantizeFloat32s(randomMatrix(r, 64, 256), 64, 256)
	if err != nil {
		t.Fatal(err)
	}
	x := dense(r, 2, 256)
	func() {
		w, err := nf4.QuantizeFloat32s(randomMatrix(r, 128, 256), 128, 256)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Linear(x, w); err != nil {
			t.Fatal(err)
		}
	}()
	for range 20 {
		runtimeGC()
		if _, err := e.Linear(x, keep); err != nil {
			t.Fatal(err)
		}
		if s := e.DeviceStats(); s.Weights == 1 && s.WeightBytes == residentBytes(keep) {
			return
		}
	}
	t.Errorf("collected weight still resident: %+v", e.DeviceStats())
}

func TestDeviceKernelCache(t *testing.T) {
	r := rand.New(rand.NewPCG(59, 60))
	dir := t.TempDir()
	w, err := nf4.QuantizeFloat32s(randomMatrix(r, 96, 256), 96, 256)
	if err != nil {
		t.Fatal(err)
	}
	x := dense(r, 3, 256)
	run := func() (nf4.DeviceStats, []float32) {
		e, err := nf4.NewEngine(nf4.WithDevice(testDevice(t)), nf4.WithCPUThreshold(0), nf4.WithKernelCache(dir))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		y, err := e.Linear(x, w)
		if err != nil {
			t.Fatal(err)
		}
		return e.DeviceStats(), y.Data().([]float32)
	}
	first, y1 := run()
	if first.Compiled != 1 || first.CacheHits != 0 {
		t.Fatalf("first start: %+v, want one kernel compiled", first)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "nf4_gemv_m3_*b64-*.cubin")) // rows named where chosen for the SMs
	if len(files) != 1 {
		t.Fatalf("cache holds %v", files)
	}
	second, y2 := run()
	if second.Compiled != 0 || second.CacheHits != 1 || !identical(y1, y2) {
		t.Fatalf("second start: %+v, want one cache hit and the same result", second)
	}
	// A damaged binary is compiled afresh and replaced.
	if err := os.WriteFile(files[0], []byte("not a cubin"), 0o644); err != nil {
		t.Fatal(err)
	}
	third, y3 := run()
	if third.Compiled != 1 || !identical(y1, y3) {
		t.Fatalf("damaged cache: %+v", third)
	}
	if b, _ := os.ReadFile(files[0]); string(b) == "not a cubin" {
		t.Error("damaged binary left in the cache")
	}
}

func TestDeviceConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	e := gpuEngine(t)
	cpuE, err := nf4.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	var ws []*nf4.Tensor
	for i := range 4 {
		w, err := nf4.QuantizeFloat32s(randomMatrix(r, 64+i*37, 256), 64+i*37, 256)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	xs := make([]*tensor.Dense, 8)
	for i := range xs {
		xs[i] = dense(r, 1+i*5, 256)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				w, x := ws[(g+i)%len(ws)], xs[(g*3+i)%len(xs)]
				got, err := e.Linear(x, w)
				if err != nil {
					t.Error(err)
					return
				}
				want, err := cpuE.Linear(x, w)
				if err != nil {
					t.Error(err)
					return
				}
				if d := normwise(t, got.Data().([]float32), widen(want.Data().([]float32))); d > 1e-5 {
					t.Errorf("goroutine %d call %d: relative error %.3g", g, i, d)
					return
				}
			}
		})
	}
	wg.Wait()
	if s := e.DeviceStats(); s.Weights != len(ws) {
		t.Errorf("%d weights resident, want %d", s.Weights, len(ws))
	}
}

func TestDeviceThresholdAndFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(63, 64))
	e, err := nf4.NewEngine(nf4.WithDevice(testDevice(t)), nf4.WithKernelCache(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	small, _ := nf4.QuantizeFloat32s(randomMatrix(r, 8, 64), 8, 64)
	big, _ := nf4.QuantizeFloat32s(randomMatrix(r, 1024, 1024), 1024, 1024)
	if _, err := e.Linear(dense(r, 1, 64), small); err != nil {
		t.Fatal(err)
	}
	if s := e.DeviceStats(); s.Launches != 0 || s.Weights != 0 {
		t.Errorf("a product under the threshold went to the device: %+v", s)
	}
	if _, err := e.Linear(dense(r, 1, 1024), big); err != nil {
		t.Fatal(err)
	}
	if s := e.DeviceStats(); s.Launches != 1 {
		t.Errorf("a product over the threshold stayed on the CPU: %+v", s)
	}
	x64 := tensor.New(tensor.WithShape(2, 1024), tensor.WithBacking(widen(randomMatrix(r, 2, 1024))))
	y64, err := e.Linear(x64, big)
	if err != nil {
		t.Fatal(err)
	}
	if s := e.DeviceStats(); s.Launches != 1 || y64.Dtype() != tensor.Float64 {
		t.Errorf("float64 product: %+v, dtype %v; want it on the CPU in float64", s, y64.Dtype())
	}
}

func TestDeviceClosed(t *testing.T) {
	r := rand.New(rand.NewPCG(65, 66))
	e, err := nf4.NewEngine(nf4.WithDevice(testDevice(t)), nf4.WithCPUThreshold(0), nf4.WithKernelCache(""))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := nf4.QuantizeFloat32s(randomMatrix(r, 16, 64), 16, 64)
	if _, err := e.Linear(dense(r, 1, 64), w); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := e.Linear(dense(r, 1, 64), w); !errors.Is(err, nf4.ErrClosed) {
		t.Errorf("Linear after Close: %v, want ErrClosed", err)
	}
	if err := e.Release(w); !errors.Is(err, nf4.ErrClosed) {
		t.Errorf("Release after Close: %v, want ErrClosed", err)
	}
}

func TestDeviceBadOrdinal(t *testing.T) {
	if e, err := nf4.NewEngine(nf4.WithDevice(1 << 20)); err == nil || e != nil {
		t.Fatalf("NewEngine on device 2^20: %v, %v", e, err)
	}
}

// A gorgonia graph with an NF4 layer trains the same on the device as on
// the CPU: forward value and the gradient with respect to x.
func TestDeviceGraph(t *testing.T) {
	r := rand.New(rand.NewPCG(67, 68))
	const m, n, k = 16, 96, 256
	w, _ := nf4.QuantizeFloat32s(randomMatrix(r, n, k), n, k)
	xv := randomMatrix(r, m, k)
	run := func(e *nf4.Engine) (y, dx []float32) {
		g := G.NewGraph()
		x := G.NewMatrix(g, tensor.Float32, G.WithShape(m, k), G.WithName("x"),
			G.WithValue(tensor.New(tensor.WithShape(m, k), tensor.WithBacking(append([]float32(nil), xv...)))))
		W := G.NewTensor(g, nf4.Dtype, 2, G.WithShape(n, k), G.WithName("w"), G.WithValue(w))
		out := G.Must(ops.Linear(x, W))
		var yv G.Value
		G.Read(out, &yv)
		cost := G.Must(G.Sum(G.Must(G.Square(out))))
		if _, err := G.Grad(cost, x); err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g, G.WithEngine(e))
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		gx, err := x.Grad()
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), yv.Data().([]float32)...), append([]float32(nil), gx.Data().([]float32)...)
	}
	e := gpuEngine(t)
	yd, gd := run(e)
	if e.DeviceStats().Launches < 2 {
		t.Fatalf("graph ran %d launches, want forward and backward on the device", e.DeviceStats().Launches)
	}
	yc, gc := run(newEngine(t))
	if d := normwise(t, yd, widen(yc)); d > 1e-5 {
		t.Errorf("forward: relative error %.3g", d)
	}
	if d := normwise(t, gd, widen(gc)); d > 1e-5 {
		t.Errorf("gradient: relative error %.3g", d)
	}
}

// runtimeGC runs a collection and lets pending cleanups run.
func runtimeGC() {
	runtime.GC()
	runtime.Gosched()
}
