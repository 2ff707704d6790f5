//go:build nf4cuda

package nf4

// Device tests that need the engine's insides, and the device benchmarks:
// kernels timed with CUDA events, without the host
// copies, against a measured device-to-device copy bandwidth. Each result
// is also appended as a JSON line to $NF4_BENCH_JSON, which
// scripts/gpu-bench.py reads to put PyTorch's numbers beside them.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/nf4go/nf4/internal/cudaplan"
	"gorgonia.org/cu"
	"gorgonia.org/tensor"
)

type benchRecord struct {
	Name     string  `json:"name"`
	Device   string  `json:"device"`
	Op       string  `json:"op"`
	Mode     string  `json:"mode"`
	Kernel   string  `json:"kernel"`
	M        int     `json:"m"`
	N        int     `json:"n"`
	K        int     `json:"k"`
	Seconds  float64 `json:"seconds"` // per launch
	Bytes    int64   `json:"bytes"`   // fewest bytes a launch must move
	GBs      float64 `json:"gb_s"`
	TFLOPs   float64 `json:"tflop_s"`
	CopyGBs  float64 `json:"copy_gb_s"`
	CopyFrac float64 `json:"copy_frac"`
}

func writeRecord(b *testing.B, r benchRecord) {
	path := os.Getenv("NF4_BENCH_JSON")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := json.NewEncoder(f).Encode(r); err != nil {
		b.Fatal(err)
	}
}

func benchDevice(b *testing.B) (*Engine, *cudaDevice) {
	ordinal := 0
	if s := os.Getenv("NF4_TEST_DEVICE"); s != "" {
		var err error
		if ordinal, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	e, err := NewEngine(WithDevice(ordinal), WithCPUThreshold(0), WithKernelCache(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	return e, e.dev.(*cudaDevice)
}

// timed runs launch(i) iters times between two events and returns the
// seconds per call; it runs on the context's thread.
func (d *cudaDevice) timed(iters int, launch func(i int) error) (float64, error) {
	var sec float64
	err := d.do(func() error {
		for i := range 3 { // warm-up: clocks up, caches and TLBs filled
			if err := launch(i); err != nil {
				return err
			}
		}
		start, err := cu.MakeEvent(cu.DefaultEvent)
		if err != nil {
			return err
		}
		defer cu.DestroyEvent(&start)
		stop, err := cu.MakeEvent(cu.DefaultEvent)
		if err != nil {
			return err
		}
		defer cu.DestroyEvent(&stop)
		if err := start.Record(cu.Stream{}); err != nil {
			return err
		}
		for i := range iters {
			if err := launch(i); err != nil {
				return err
			}
		}
		if err := stop.Record(cu.Stream{}); err != nil {
			return err
		}
		if err := stop.Synchronize(); err != nil {
			return err
		}
		ms, err := start.Elapsed(stop)
		sec = ms / 1e3 / float64(iters)
		return err
	})
	return sec, err
}

// copyBandwidth measures a device-to-device copy of 1 GiB, counting bytes
// read and written: the ceiling a memory-bound kernel is held to.
func copyBandwidth(b *testing.B, d *cudaDevice) float64 {
	const size = 1 << 30
	var src, dst cu.DevicePtr
	if err := d.do(func() error {
		var err error
		if src, err = d.alloc(size, "copy source"); err != nil {
			return err
		}
		if err := cu.MemsetD8(src, 1, size); err != nil {
			return err
		}
		dst, err = d.alloc(size, "copy destination")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer d.do(func() error { return firstErr(cu.MemFree(src), cu.MemFree(dst)) })
	sec, err := d.timed(20, func(int) error { return cu.MemcpyDtoD(dst, src, size) })
	if err != nil {
		b.Fatal(err)
	}
	return 2 * size / sec / 1e9
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// rotation holds several device copies of one weight, so that a weight
// that fits in L2 is still read from memory at each launch.
type rotation struct {
	sets []cudaplan.Buffers
	ptrs []cu.DevicePtr
}

func newRotation(d *cudaDevice, w *Tensor, in, out cu.DevicePtr) (*rotation, error) {
	rot := &rotation{}
	err := d.do(func() error {
		r, err := d.resident(w)
		if err != nil {
			return err
		}
		const target = 512 << 20 // well past any L2
		copies := int(min(32, max(2, (target+r.bytes-1)/r.bytes)))
		for range copies {
			c := r.buffers()
			for _, f := range []struct {
				p *uint64
				n int64
			}{{&c.Codes, int64(len(w.w.Codes))}, {&c.Absmax, 4 * int64(len(w.w.Scales.Absmax))}} {
				p, err := d.alloc(f.n, "a benchmark copy")
				if err != nil {
					return err
				}
				rot.ptrs = append(rot.ptrs, p)
				if err := cu.MemcpyDtoD(p, cu.DevicePtr(*f.p), f.n); err != nil {
					return err
				}
				*f.p = uint64(p)
			}
			c.In, c.Out = uint64(in), uint64(out)
			rot.sets = append(rot.sets, c)
		}
		return nil
	})
	return rot, err
}

func (r *rotation) free(d *cudaDevice) {
	_ = d.do(func() error {
		for _, p := range r.ptrs {
			_ = cu.MemFree(p)
		}
		return nil
	})
}

// BenchmarkDevice times the NF4 kernels at N = K = 4096 and 8192 and
// M = 1, 8, 64, 512, forward in both compute modes and backward.
func BenchmarkDevice(b *testing.B) {
	_, d := benchDevice(b)
	copyGBs := copyBandwidth(b, d)
	b.Logf("%s: device-to-device copy %.0f GB/s", d.label, copyGBs)
	writeRecord(b, benchRecord{Name: "copy", Device: d.label, Op: "copy", CopyGBs: copyGBs, GBs: copyGBs, CopyFrac: 1})
	r := rand.New(rand.NewPCG(1, 2))
	for _, nk := range []int{4096, 8192} {
		src := make([]float32, nk*nk)
		for i := range src {
			src[i] = float32(r.NormFloat64())
		}
		w, err := QuantizeFloat32s(src, nk, nk)
		if err != nil {
			b.Fatal(err)
		}
		const maxM = 512
		var in, out cu.DevicePtr
		if err := d.do(func() error {
			x := make([]float32, maxM*nk)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			var err error
			if in, err = d.alloc(4*int64(len(x)), "benchmark activations"); err != nil {
				return err
			}
			if err := cu.MemcpyHtoD(in, unsafe.Pointer(&x[0]), 4*int64(len(x))); err != nil {
				return err
			}
			out, err = d.alloc(4*int64(len(x)), "benchmark results")
			return err
		}); err != nil {
			b.Fatal(err)
		}
		rot, err := newRotation(d, w, in, out)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range []int{1, 8, 64, maxM} {
			cases := []cudaplan.Problem{{Op: cudaplan.Forward, Mode: cudaplan.Float32}}
			if m > 1 { // M = 8: the tensor-core gemv
				cases = append(cases, cudaplan.Problem{Op: cudaplan.Forward, Mode: cudaplan.BF16})
			}
			if m > 8 {
				cases = append(cases, cudaplan.Problem{Op: cudaplan.Backward}, cudaplan.Problem{Op: cudaplan.Backward, Mode: cudaplan.BF16})
			}
			for _, p := range cases {
				p.M, p.N, p.K, p.BlockSize = m, nk, nk, w.w.BlockSize
				benchProblem(b, d, p, rot, copyGBs)
			}
		}
		rot.free(d)
		_ = d.do(func() error { return firstErr(cu.MemFree(in), cu.MemFree(out)) })
		_ = d.release(w)
	}
}

func benchProblem(b *testing.B, d *cudaDevice, p cudaplan.Problem, rot *rotation, copyGBs float64) {
	pl, err := cudaplan.Choose(d.onDevice(p))
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("%s/N=K=%d/M=%d/%s", map[cudaplan.Op]string{cudaplan.Forward: "fwd", cudaplan.Backward: "bwd"}[p.Op], p.N, p.M, pl.Kernel.Name())
	b.Run(name, func(b *testing.B) {
		var fn cu.Function
		packed := make([]*packedArgs, len(rot.sets))
		var ws uint64
		if err := d.do(func() error {
			var err error
			if fn, err = d.function(pl); err != nil {
				return err
			}
			ws, err = d.workspace(pl)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		for i, s := range rot.sets {
			s.Workspace = ws
			args, err := pl.Args(s)
			if err == nil {
				packed[i], err = packArgs(args, d.encoder)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer packed[i].free()
		}
		sec, err := d.timed(b.N, func(i int) error {
			return launchPacked(fn, pl.Launch, packed[i%len(packed)])
		})
		if err != nil {
			b.Fatal(d.kernelErr(pl, "benchmark", err))
		}
		inSize := int64(4)
		if pl.InBF16() {
			inSize = 2
		}
		bytes := int64(p.N)*int64(p.K)/2 + 4*int64(p.N)*int64(p.K/p.BlockSize) + inSize*int64(p.InLen()) + 4*int64(p.OutLen())
		rec := benchRecord{
			Name: name, Device: d.label, Op: p.Op.String(), Mode: p.Mode.String(), Kernel: pl.Kernel.Name(),
			M: p.M, N: p.N, K: p.K, Seconds: sec, Bytes: bytes,
			GBs: float64(bytes) / sec / 1e9, TFLOPs: 2 * float64(p.MACs()) / sec / 1e12, CopyGBs: copyGBs,
		}
		rec.CopyFrac = rec.GBs / copyGBs
		b.ReportMetric(sec*1e6, "us/launch")
		b.ReportMetric(rec.GBs, "GB/s")
		b.ReportMetric(rec.TFLOPs, "TFLOP/s")
		b.ReportMetric(rec.CopyFrac, "copy-frac")
		writeRecord(b, rec)
	})
}

// An allocation the device cannot hold is an ErrDeviceMemory error naming
// the device, and the engine goes on working.
func TestDeviceAllocOutOfMemory(t *testing.T) {
	e, err := NewEngine(WithDevice(0), WithCPUThreshold(0), WithKernelCache(""))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d := e.dev.(*cudaDevice)
	err = d.do(func() error {
		p, err := d.alloc(1<<50, "a petabyte")
		if err == nil {
			_ = cu.MemFree(p)
		}
		return err
	})
	if !errors.Is(err, ErrDeviceMemory) || !strings.Contains(err.Error(), d.label) || !strings.Contains(err.Error(), "a petabyte") {
		t.Fatalf("allocating 1 PiB: %v, want ErrDeviceMemory naming the device and the buffer", err)
	}
	w, err := QuantizeFloat32s(make([]float32, 64*64), 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(tensor.WithShape(2, 64), tensor.WithBacking(make([]float32, 128)))
	if _, err := e.Linear(x, w); err != nil {
		t.Fatalf("after an out-of-memory error: %v", err)
	}
}
