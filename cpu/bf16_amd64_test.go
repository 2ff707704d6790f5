//go:build amd64 && !purego

package cpu

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// TestBF16KernelsNative says whether the AVX-512 BF16 kernels ran in this
// package's tests (TestLinearBF16, FuzzLinearBF16), and checks that they
// are in use wherever the CPU has the instructions.
func TestBF16KernelsNative(t *testing.T) {
	if !hasAVX512() || !cpu.X86.HasAVX512BF16 {
		t.Skipf("NOT RUN NATIVELY: this CPU lacks AVX512F/BW/VL or AVX512_BF16, so the bf16 kernels are untested here (LinearBF16 is Linear)")
	}
	runWith(avx512, func() {
		if !BF16Kernels() {
			t.Fatal("the CPU has AVX512_BF16 but the avx512 set has no bf16 kernels")
		}
	})
	t.Log("the AVX-512 BF16 kernels run natively here")
}
