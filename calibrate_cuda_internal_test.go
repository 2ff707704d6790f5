//go:build nf4cuda

package nf4

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/nf4go/nf4/internal/cudaplan"
	"gorgonia.org/cu"
)

// BenchmarkDeviceCalibrate launches the kernels the performance model
// (kernels/perf) is calibrated on, a few times each, for Nsight Compute to
// profile (scripts/gpu-check run): the float32 dequantize, the M=1 GEMV and
// the M=512 float32 and bf16 tensor-core GEMMs, at N = K = 4096 and 8192.
// Each launch's time is also written as a benchmark record.
func BenchmarkDeviceCalibrate(b *testing.B) {
	_, d := benchDevice(b)
	r := rand.New(rand.NewPCG(3, 4))
	const maxM, launches = 512, 2
	for _, nk := range []int{4096, 8192} {
		src := make([]float32, nk*nk)
		for i := range src {
			src[i] = float32(r.NormFloat64())
		}
		w, err := QuantizeFloat32s(src, nk, nk)
		if err != nil {
			b.Fatal(err)
		}
		var set cudaplan.Buffers
		var in, out cu.DevicePtr
		if err := d.do(func() error {
			res, err := d.resident(w)
			if err != nil {
				return err
			}
			set = res.buffers()
			x := make([]float32, maxM*nk)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			if in, err = d.alloc(4*int64(len(x)), "calibration activations"); err != nil {
				return err
			}
			if err := cu.MemcpyHtoD(in, unsafe.Pointer(&x[0]), 4*int64(len(x))); err != nil {
				return err
			}
			out, err = d.alloc(4*int64(max(maxM, nk))*int64(nk), "calibration results")
			return err
		}); err != nil {
			b.Fatal(err)
		}
		set.In, set.Out = uint64(in), uint64(out)
		for _, p := range []cudaplan.Problem{
			{Op: cudaplan.Dequantize},
			{Op: cudaplan.Forward, Mode: cudaplan.Float32, M: 1},
			{Op: cudaplan.Forward, Mode: cudaplan.Float32, M: maxM},
			{Op: cudaplan.Forward, Mode: cudaplan.BF16, M: maxM},
		} {
			p.N, p.K, p.BlockSize = nk, nk, w.w.BlockSize
			calibrate(b, d, p, set, launches)
		}
		_ = d.do(func() error { return firstErr(cu.MemFree(in), cu.MemFree(out)) })
		_ = d.release(w)
	}
}

func calibrate(b *testing.B, d *cudaDevice, p cudaplan.Problem, set cudaplan.Buffers, launches int) {
	pl, err := cudaplan.Choose(d.onDevice(p))
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("calibrate/N=K=%d/M=%d/%s", p.N, p.M, pl.Kernel.Name())
	b.Run(name, func(b *testing.B) {
		var fn cu.Function
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
		set.Workspace = ws
		args, err := pl.Args(set)
		if err != nil {
			b.Fatal(err)
		}
		packed, err := packArgs(args, d.encoder)
		if err != nil {
			b.Fatal(err)
		}
		defer packed.free()
		// timed adds 3 warm-up launches: Nsight Compute profiles those too.
		sec, err := d.timed(launches*b.N, func(int) error {
			return launchPacked(fn, pl.Launch, packed)
		})
		if err != nil {
			b.Fatal(d.kernelErr(pl, "calibration", err))
		}
		b.ReportMetric(sec*1e6, "us/launch")
		writeRecord(b, benchRecord{Name: name, Device: d.label, Op: p.Op.String(), Mode: p.Mode.String(), Kernel: pl.Kernel.Name(),
			M: p.M, N: p.N, K: p.K, Seconds: sec})
	})
}
