//go:build !nf4cuda

package nf4_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/nf4go/nf4"
)

// An engine asks for a GPU and falls back to the CPU in a build without
// CUDA support (build with -tags nf4cuda for the GPU).
func ExampleWithDevice() {
	e, err := nf4.NewEngine(nf4.WithDevice(0), nf4.WithComputeMode(nf4.ComputeBF16))
	if errors.Is(err, nf4.ErrNoCUDA) {
		e, err = nf4.NewEngine()
	}
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	fmt.Println("on a device:", e.OnDevice())
	// Output: on a device: false
}

// DeviceStats tells how much device memory an engine holds; Release hands
// one weight's copy back early, Close all of it.
func ExampleEngine_DeviceStats() {
	e, err := nf4.NewEngine()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	w, err := nf4.QuantizeFloat32s(wave(128, 256), 128, 256)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := e.Dequantize(w); err != nil {
		log.Fatal(err)
	}
	if err := e.Release(w); err != nil {
		log.Fatal(err)
	}
	s := e.DeviceStats()
	fmt.Printf("device %q holds %d bytes in %d weights\n", s.Device, s.Bytes(), s.Weights)
	// Output: device "" holds 0 bytes in 0 weights
}

// Products below the threshold stay on the CPU even on a device engine:
// for them a launch costs more than the arithmetic.
func ExampleWithCPUThreshold() {
	e, err := nf4.NewEngine(nf4.WithCPUThreshold(1 << 22))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	fmt.Println(e.Backend()[:3], nf4.DefaultCPUThreshold)
	// Output: cpu 524288
}
