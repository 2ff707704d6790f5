//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

//go:generate go run -C internal/asmgen . -out ../../nf4_amd64.s -stubs ../../nf4_amd64_stubs.go -pkg cpu

var avx2 = &vecKernels{
	name: "avx2",
	gemv: [...]gemvFunc{
		nil, gemvAVX2x1, gemvAVX2x2, gemvAVX2x3, gemvAVX2x4, gemvAVX2x5, gemvAVX2x6, gemvAVX2x7, gemvAVX2x8,
	},
	gemv1s: gemvAVX2x1s,
	gemm: tile{16, []func(*float32, int, int, *float32, int, *float32, int, int){
		nil, gemmAVX2x1x16, gemmAVX2x2x16, gemmAVX2x3x16, gemmAVX2x4x16, gemmAVX2x5x16, gemmAVX2x6x16,
	}},
	decode:   decodeAVX2,
	quantize: quantizeAVX2,
}

// vecVariants lists the kernel sets this CPU runs, best first.
func vecVariants() []*vecKernels {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return []*vecKernels{avx2}
	}
	return nil
}
