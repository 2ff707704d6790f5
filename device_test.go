package nf4_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nf4go/nf4"
	"gorgonia.org/tensor"
)

func TestEngineOptionsRejectBadValues(t *testing.T) {
	for name, o := range map[string]nf4.EngineOption{
		"negative device":    nf4.WithDevice(-1),
		"negative threshold": nf4.WithCPUThreshold(-1),
		"unknown mode":       nf4.WithComputeMode(nf4.ComputeMode(9)),
	} {
		if e, err := nf4.NewEngine(o); err == nil || e != nil {
			t.Errorf("%s: NewEngine = %v, %v; want an error", name, e, err)
		}
	}
}

// Options that only matter on a device leave a CPU engine computing the
// same results (ComputeBF16 does not: see TestComputeBF16OnCPU).
func TestDeviceOptionsOnCPU(t *testing.T) {
	e, err := nf4.NewEngine(nf4.WithCPUThreshold(0), nf4.WithComputeMode(nf4.ComputeFloat32), nf4.WithKernelCache(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.OnDevice() || !strings.HasPrefix(e.Backend(), "cpu") {
		t.Fatalf("engine without WithDevice runs on %q", e.Backend())
	}
	if s := e.DeviceStats(); s != (nf4.DeviceStats{}) || e.DeviceBytes() != 0 {
		t.Errorf("CPU engine reports device stats %+v", s)
	}
	r := rand.New(rand.NewPCG(3, 4))
	w, err := nf4.QuantizeFloat32s(randomMatrix(r, 9, 128), 9, 128)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(tensor.WithShape(3, 128), tensor.WithBacking(randomMatrix(r, 3, 128)))
	y, err := e.Linear(x, w)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := nf4.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Linear(x, w)
	if err != nil {
		t.Fatal(err)
	}
	if !identical(y.Data(), want.Data()) {
		t.Error("device options changed a CPU result")
	}
	if err := e.Release(w); err != nil {
		t.Error(err)
	}
	if err := e.Close(); err != nil {
		t.Error(err)
	}
}

func TestComputeModeString(t *testing.T) {
	for m, want := range map[nf4.ComputeMode]string{nf4.ComputeFloat32: "float32", nf4.ComputeBF16: "bf16", 7: "ComputeMode(7)"} {
		if m.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(m), m.String(), want)
		}
	}
}
