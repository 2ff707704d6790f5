package nf4

import (
	"errors"
	"fmt"

	"github.com/nf4go/nf4/internal/cudaplan"
)

// ComputeMode selects how forward products on float32 activations
// multiply. On a device it applies to products with more than eight
// activation rows; those with up to eight (the memory-bound GEMV) run in
// float32. On the CPU it applies to every forward float32 product (see
// cpu.LinearBF16 for where bf16 kernels run; elsewhere the product is
// float32). Backward products, float64 activations and dequantization
// always run in float32 (float64 for float64).
type ComputeMode int

const (
	// ComputeFloat32 multiplies with float32 FMAs: device results match the
	// CPU path to float32 rounding (relative error ≤ 1e-5). The default.
	ComputeFloat32 ComputeMode = iota
	// ComputeBF16 rounds activations and decoded weights to bf16 and
	// multiplies them with float32 accumulation: on a device on tensor
	// cores for batches of 2 rows and more (much faster from 4 rows up),
	// one row staying on the exact float32 kernel, and for the backward
	// product above 8 rows; on the CPU (forward only; the backward stays
	// float32) with AVX-512 BF16
	// instructions (VDPBF16PS) where the CPU has them, for batches of 1 to
	// 48 rows (one row where blocks have 64 codes or more and K is at
	// least 128), and on AMX-BF16 tiles for 16 rows or more where the CPU has
	// those and the OS grants them (cpu.AMXKernels). About three
	// significant digits (relative error ≤ 1e-2).
	ComputeBF16
)

func (m ComputeMode) String() string {
	switch m {
	case ComputeFloat32:
		return "float32"
	case ComputeBF16:
		return "bf16"
	}
	return fmt.Sprintf("ComputeMode(%d)", int(m))
}

var (
	// ErrNoCUDA is returned by NewEngine when a device is asked for in a
	// build without the nf4cuda tag.
	ErrNoCUDA = errors.New("nf4: this build has no CUDA support (rebuild with -tags nf4cuda)")
	// ErrDeviceMemory is wrapped by every error caused by the device
	// running out of memory.
	ErrDeviceMemory = errors.New("nf4: out of device memory")
	// ErrClosed is returned by device operations on a closed Engine.
	ErrClosed = errors.New("nf4: engine closed")

	// errNotOnDevice marks work the device kernels cannot take (an index
	// range past 32 bits); the engine runs it on the CPU instead.
	errNotOnDevice = errors.New("not runnable on the device")
)

// DefaultCPUThreshold is the work, in multiply-adds (M·N·K), below which a
// product runs on the CPU even when the engine has a device.
const DefaultCPUThreshold = cudaplan.DefaultThreshold

// engineConfig holds what the options set.
type engineConfig struct {
	device    int // -1: none
	threshold int64
	mode      ComputeMode
	cacheDir  string
}

func defaultConfig() engineConfig {
	return engineConfig{device: -1, threshold: DefaultCPUThreshold, cacheDir: cudaplan.DefaultCacheDir()}
}

// WithDevice runs NF4 operations on CUDA device ordinal (0 is the first):
// forward and backward products and dequantization, float32 in and out,
// with each weight uploaded once and kept on the device (see Release and
// Close); activations are copied in and results out at each call. The
// device needs compute capability 8.0 or newer; kernels are compiled by the
// driver on first use and kept on disk (WithKernelCache).
//
// It needs a build with the nf4cuda tag (cgo, cuda.h and libcuda.so at
// build time; scripts/install-cuda-dev.sh fetches both), and a program so
// built needs a CUDA driver and a GPU to start at all: gorgonia.org/cu
// initialises the driver when the program starts and exits if it cannot.
// Without the tag NewEngine returns ErrNoCUDA.
//
// float64 activations still run on the CPU: the device kernels accumulate
// in float32, and a float64 graph asks for float64 accumulation.
func WithDevice(ordinal int) EngineOption {
	return func(e *Engine) error {
		if ordinal < 0 {
			return errorf("device ordinal %d is negative", ordinal)
		}
		e.cfg.device = ordinal
		return nil
	}
}

// WithCPUThreshold sets the work, in multiply-adds (M·N·K; N·K for
// dequantization), below which an operation runs on the CPU although the
// engine has a device: tiny products lose to the launch and copy latency.
// 0 sends everything to the device. The default is DefaultCPUThreshold.
func WithCPUThreshold(macs int64) EngineOption {
	return func(e *Engine) error {
		if macs < 0 {
			return errorf("CPU threshold %d is negative", macs)
		}
		e.cfg.threshold = macs
		return nil
	}
}

// WithComputeMode sets how forward float32 products multiply (see
// ComputeMode): on a device, those with more than eight rows; on the CPU,
// all of them.
func WithComputeMode(m ComputeMode) EngineOption {
	return func(e *Engine) error {
		if m != ComputeFloat32 && m != ComputeBF16 {
			return errorf("unknown compute mode %v", m)
		}
		e.cfg.mode = m
		return nil
	}
}

// WithKernelCache sets the directory where kernels compiled by the driver
// are kept, so that later engines load them without compiling again. ""
// turns the disk cache off. The default is $NF4_KERNEL_CACHE, else
// nf4/cubin under the user's cache directory.
func WithKernelCache(dir string) EngineOption {
	return func(e *Engine) error {
		e.cfg.cacheDir = dir
		return nil
	}
}

// DeviceStats describes an engine's device and what it holds there. On a
// CPU engine every field is zero.
type DeviceStats struct {
	Device       string // e.g. "cuda:0 NVIDIA H100 80GB HBM3 (sm_90)"
	Weights      int    // NF4 weights resident on the device
	WeightBytes  int64  // bytes their codes and scales take there
	ScratchBytes int64  // activation buffers kept for reuse
	Launches     int64  // kernel launches so far
	Compiled     int    // kernels the driver compiled from PTX
	CacheHits    int    // kernels loaded from the disk cache instead
}

// Bytes is the device memory the engine holds.
func (s DeviceStats) Bytes() int64 { return s.WeightBytes + s.ScratchBytes }

// accelerator is a device the engine sends float32 NF4 work to.
type accelerator interface {
	name() string
	// linear runs op (Forward or Backward) on in, writing out.
	linear(op cudaplan.Op, out, in []float32, m int, w *Tensor) error
	dequantize(out []float32, w *Tensor) error
	release(w *Tensor) error
	stats() DeviceStats
	close() error
}

// OnDevice reports whether the engine sends NF4 work to a device.
func (e *Engine) OnDevice() bool { return e != nil && e.dev != nil }

// DeviceStats reports what the engine holds on its device.
func (e *Engine) DeviceStats() DeviceStats {
	if e == nil || e.dev == nil {
		return DeviceStats{}
	}
	return e.dev.stats()
}

// DeviceBytes is the device memory the engine holds: resident weights plus
// activation buffers.
func (e *Engine) DeviceBytes() int64 { return e.DeviceStats().Bytes() }

// Release frees w's copy on the engine's device, if it has one (clones of
// w share that copy); the next use uploads it again. Weights that become unreachable are released by the
// garbage collector too, so Release is for handing memory back early.
func (e *Engine) Release(w *Tensor) error {
	if e == nil || e.dev == nil || w == nil {
		return nil
	}
	return e.dev.release(w)
}

// Close frees everything the engine holds on its device and the device
// context. A closed device engine returns ErrClosed from NF4 operations.
// Close on a CPU engine does nothing. It is safe to call more than once.
func (e *Engine) Close() error {
	if e == nil || e.dev == nil {
		return nil
	}
	return e.dev.close()
}

// useDevice reports whether work of macs multiply-adds goes to the device.
func (e *Engine) useDevice(macs int64) bool {
	return e.dev != nil && cudaplan.UseDevice(macs, e.cfg.threshold)
}
