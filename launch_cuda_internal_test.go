//go:build nf4cuda

package nf4

import (
	"errors"
	"strings"
	"testing"
	"unsafe"

	"github.com/nf4go/nf4/internal/cudaplan"
	"github.com/nf4go/nf4/kernels/tensormap"
)

// Launch parameters pack as cuLaunchKernel reads them: 8 bytes each, and a
// tensor map as the driver encodes it, 64-byte aligned; a map the driver
// would refuse is an error naming the field, before the driver sees it.
func TestDevicePackArgs(t *testing.T) {
	e, err := NewEngine(WithDevice(0), WithCPUThreshold(0), WithKernelCache(""))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d := e.dev.(*cudaDevice)
	m := tensormap.Map2D{Base: 1 << 20, Elem: tensormap.BFloat16, Cols: 4096, Rows: 70, RowStride: 8192,
		BoxCols: 64, BoxRows: 128, Swizzle: tensormap.Swizzle128B}
	args := []cudaplan.Arg{{Bits: 7}, {Map: &m}, {Bits: 1<<63 | 9}}
	if d.encoder == nil {
		if _, err := packArgs(args, nil); !errors.Is(err, errNoTensorMaps) {
			t.Fatalf("a tensor map without the driver's encoder: %v", err)
		}
		t.Skipf("%s: the driver cannot encode tensor maps", d.label)
	}
	err = d.do(func() error {
		p, err := packArgs(args, d.encoder)
		if err != nil {
			return err
		}
		defer p.free()
		if uintptr(p.base)%64 != 0 {
			t.Errorf("parameters at %p, not 64-byte aligned", p.base)
		}
		offs := unsafe.Slice((*uint32)(unsafe.Pointer(p.offsets)), 3)
		if offs[0] != 0 || offs[1] != 64 || offs[2] != 64+tensormap.Size {
			t.Errorf("offsets %v, want [0 64 192]", offs)
		}
		at := func(i int, n int) []byte { return unsafe.Slice((*byte)(unsafe.Add(p.base, offs[i])), n) }
		if v := *(*uint64)(unsafe.Pointer(&at(0, 8)[0])); v != 7 {
			t.Errorf("parameter 0 is %d", v)
		}
		if v := *(*uint64)(unsafe.Pointer(&at(2, 8)[0])); v != 1<<63|9 {
			t.Errorf("parameter 2 is %#x", v)
		}
		enc := at(1, tensormap.Size)
		if strings.Contains(d.label, "Fake CUDA device") {
			// The stand-in driver writes the layout the simulator reads.
			got, err := tensormap.Decode(enc)
			if err != nil || got != m {
				t.Errorf("the stand-in driver encoded %v (%v), want %v", got, err, m)
			}
		} else if string(enc) == string(make([]byte, tensormap.Size)) {
			t.Error("the driver wrote an all-zero tensor map")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bad := m
	bad.RowStride = 8200
	if _, err := packArgs([]cudaplan.Arg{{Map: &bad}}, d.encoder); !errors.Is(err, tensormap.ErrInvalid) || !strings.Contains(err.Error(), "row stride") {
		t.Errorf("a row stride the driver refuses: %v", err)
	}
	if _, err := packArgs(make([]cudaplan.Arg, 65), d.encoder); err == nil {
		t.Error("65 parameters packed")
	}
}
