package nf4_test

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/cpu"
)

// TestComputeBF16OnCPU runs a graph's NF4 product on a CPU engine in each
// compute mode: bf16 is within 1e-2 of the float64 product and, where the
// CPU has bf16 kernels or AMX tiles for the batch, differs from float32
// (so the mode reaches them);
// float32 is within float32 rounding.
func TestComputeBF16OnCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	const n, k = 70, 320
	w, err := nf4.QuantizeFloat32s(randomMatrix(r, n, k), n, k)
	if err != nil {
		t.Fatal(err)
	}
	d, err := w.Dequantize()
	if err != nil {
		t.Fatal(err)
	}
	dv := d.Data().([]float32)
	for _, m := range []int{1, 5, 8, 13, 20} {
		xv := randomMatrix(r, m, k)
		want := make([]float64, m*n)
		for i := range m {
			for j := range n {
				for c := range k {
					want[i*n+j] += float64(xv[i*k+c]) * float64(dv[j*k+c])
				}
			}
		}
		got := map[nf4.ComputeMode][]float32{}
		for _, mode := range []nf4.ComputeMode{nf4.ComputeFloat32, nf4.ComputeBF16} {
			e, err := nf4.NewEngine(nf4.WithComputeMode(mode))
			if err != nil {
				t.Fatal(err)
			}
			g, _, _, yv, _ := buildLinearGraphs(t, w, xv, m, true)
			vm := G.NewTapeMachine(g, G.WithEngine(e))
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			got[mode] = append([]float32(nil), (*yv).Data().([]float32)...)
			vm.Close()
			e.Close()
		}
		f32, bf16 := got[nf4.ComputeFloat32], got[nf4.ComputeBF16]
		if e := normErr(f32, want); !(e <= 1e-5) {
			t.Errorf("M=%d float32 mode: error %.2e against float64", m, e)
		}
		if e := normErr(bf16, want); !(e <= 1e-2) {
			t.Errorf("M=%d bf16 mode: error %.2e against float64", m, e)
		}
		// Every batch here has a bf16 kernel where the CPU has them (one
		// row too: K is 128 or more and blocks have 64 codes); 16 rows or
		// more run on AMX tiles where the CPU has them.
		native := cpu.BF16Kernels() || cpu.AMXKernels() && m >= 16
		switch diff := normErr(bf16, widen(f32)); {
		case native && !(diff > 1e-4):
			t.Errorf("M=%d: the bf16 mode is %.2e from the float32 mode: the bf16 kernels did not run", m, diff)
		case !native && diff != 0:
			t.Errorf("M=%d: without bf16 kernels (kernel set %s) the bf16 mode differs from float32 by %.2e", m, cpu.Kernels(), diff)
		case m == 1:
			t.Logf("bf16 kernels on the CPU: %v (kernel set %s)", cpu.BF16Kernels(), cpu.Kernels())
		}
	}
}

func normErr(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		e := float64(got[i]) - want[i]
		num += e * e
		den += want[i] * want[i]
	}
	return math.Sqrt(num / den)
}
