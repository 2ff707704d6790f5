//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

//go:generate go run -C internal/asmgen . -set avx2 -out ../../nf4_amd64.s -stubs ../../nf4_amd64_stubs.go -pkg cpu
//go:generate go run -C internal/asmgen . -set avx512 -out ../../nf4_avx512_amd64.s -stubs ../../nf4_avx512_amd64_stubs.go -pkg cpu
//go:generate go run -C internal/asmgen . -set amx -out ../../nf4_amx_amd64.s -stubs ../../nf4_amx_amd64_stubs.go -pkg cpu

var avx2 = &vecKernels{
	name: "avx2",
	gemv: [...]gemvFunc{
		nil, withPlanes(gemvAVX2x1), withPlanes(gemvAVX2x2), withPlanes(gemvAVX2x3), withPlanes(gemvAVX2x4),
		withPlanes(gemvAVX2x5), withPlanes(gemvAVX2x6), withPlanes(gemvAVX2x7), withPlanes(gemvAVX2x8),
	},
	gemv1s: withPlanes(gemvAVX2x1s),
	order:  &unitOrder,
	// Zen 5, 4096²: slices 4.7 ms against the GEMM's 5.8 at M = 24; a tie at 32.
	slicesUpTo: 24,
	gemm: tile{16, []func(*float32, int, int, *float32, int, *float32, int, int){
		nil, gemmAVX2x1x16, gemmAVX2x2x16, gemmAVX2x3x16, gemmAVX2x4x16, gemmAVX2x5x16, gemmAVX2x6x16,
	}},
	decode:       decodeAVX2,
	decodeStream: decodeAVX2Stream,
	quantize: func(codes *byte, absmax *float32, src *float32, blocks, blockSize int, t *codeTable) int {
		return quantizeAVX2(codes, absmax, src, blocks, blockSize, &t.quant)
	},
	peak: &peakLoops{fma: peakFMAAVX2, lanes: 8, chains: peakChainsAVX2},
	fill: streamFillAVX2,
}

// avx512 has its own decode-dot and dequantize kernels, which keep the
// codebook in one zmm register, GEMM micro-kernels of up to 12×32 and a
// quantizer.
var avx512 = &vecKernels{
	name: "avx512",
	gemv: [...]gemvFunc{
		nil, withValues(gemvAVX512x1), withValues(gemvAVX512x2), withValues(gemvAVX512x3), withValues(gemvAVX512x4),
		withValues(gemvAVX512x5), withValues(gemvAVX512x6), withValues(gemvAVX512x7), withValues(gemvAVX512x8),
	},
	gemv1s:   withValues(gemvAVX512x1s),
	gemv1w:   withValues(gemvAVX512x1w),
	gemv1wb:  withValues(gemvAVX512x1wb),
	gemv1wp:  pairsWithValues(gemvAVX512x1wp),
	gemv1wbp: pairsWithValues(gemvAVX512x1wbp),
	order:    &unitOrder512,
	// Zen 5, 4096²: slices 5.2 ms against the GEMM's 6.6 at M = 48; the GEMM
	// wins at 64.
	slicesUpTo: 48,
	gemm: tile{32, []func(*float32, int, int, *float32, int, *float32, int, int){
		nil, gemmAVX512x1x32, gemmAVX512x2x32, gemmAVX512x3x32, gemmAVX512x4x32, gemmAVX512x5x32, gemmAVX512x6x32,
		gemmAVX512x7x32, gemmAVX512x8x32, gemmAVX512x9x32, gemmAVX512x10x32, gemmAVX512x11x32, gemmAVX512x12x32,
	}},
	gemvBF16:     bf16Kernels(),
	gemvBF16w:    bf16Wide(),
	gemvBF16wp:   bf16WidePairs(),
	amx:          &tileKernels{tile: amxBF16x32x32, decode: decodeBF16AVX512, ready: amxPermitted},
	tilesBF16:    bf16Tiles(),
	tilesFrom:    bf16TilesFrom,
	decode:       decodeAVX512,
	decodeStream: decodeAVX512Stream,
	quantize: func(codes *byte, absmax *float32, src *float32, blocks, blockSize int, t *codeTable) int {
		return quantizeAVX512(codes, absmax, src, blocks, blockSize, &t.quant512)
	},
	peak: &peakLoops{fma: peakFMAAVX512, lanes: 16, chains: peakChainsAVX512, bf16: peakBF16(), bf16Chains: peakChainsAVX512},
	fill: streamFillAVX512,
}

// bf16Kernels returns the AVX-512 BF16 decode-dot kernels for 2..8 rows
// where the CPU has AVX512_BF16, else nil.
func bf16Kernels() *[GEMVMaxRows + 1]gemvBF16Func {
	if !cpu.X86.HasAVX512BF16 {
		return nil
	}
	return &[...]gemvBF16Func{
		nil, nil, gemvBF16AVX512x2, gemvBF16AVX512x3, gemvBF16AVX512x4,
		gemvBF16AVX512x5, gemvBF16AVX512x6, gemvBF16AVX512x7, gemvBF16AVX512x8,
	}
}

// bf16Wide returns the one-row AVX-512 BF16 decode-dot where the CPU has
// AVX512_BF16, else nil.
func bf16Wide() gemvBF16Func {
	if !cpu.X86.HasAVX512BF16 {
		return nil
	}
	return gemvBF16AVX512x1w
}

// bf16WidePairs returns the one-row AVX-512 BF16 decode-dot for two
// rows at a time where the CPU has AVX512_BF16, else nil.
func bf16WidePairs() gemvBF16PairsFunc {
	if !cpu.X86.HasAVX512BF16 {
		return nil
	}
	return gemvBF16AVX512x1wp
}

// peakBF16 returns the VDPBF16PS peak loop where the CPU has
// AVX512_BF16, else nil.
func peakBF16() func(n int, a *uint32, out *float32) {
	if !cpu.X86.HasAVX512BF16 {
		return nil
	}
	return peakBF16AVX512
}

// bf16Tiles returns the VDPBF16PS tile path where the CPU has
// AVX512_BF16, else nil.
func bf16Tiles() *tileKernels {
	if !cpu.X86.HasAVX512BF16 {
		return nil
	}
	return &tileKernels{tile: tileBF16AVX512x32x32, decode: decodeBF16AVX512, ready: func() bool { return true }}
}

// builtVariants lists every kernel set of this build, best first.
func builtVariants() []*vecKernels { return []*vecKernels{avx512, avx2} }

// hasAVX512 reports whether the AVX-512 kernels run here: x/sys/cpu sets
// the flags only when the OS also saves the zmm and mask registers.
func hasAVX512() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL
}

// vecVariants lists the kernel sets this CPU runs, best first.
func vecVariants() []*vecKernels {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	if hasAVX512() {
		return []*vecKernels{avx512, avx2}
	}
	return []*vecKernels{avx2}
}

// gemvAVX2Asm is an AVX2 decode-dot kernel, which reads the table's byte
// planes.
type gemvAVX2Asm func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, tab *[5][32]byte, acc *float32)

func withPlanes(f gemvAVX2Asm) gemvFunc {
	return func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, t *codeTable, acc *float32) {
		f(codes, cskip, scales, sskip, sbytes, sstep, x, ubytes, rows, pf, &t.planes, acc)
	}
}

func pairsWithValues(f func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, tab *[16]float32, acc *float32, rowc, srow, arow int)) gemvPairsFunc {
	return func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, t *codeTable, acc *float32, rowc, srow, arow int) {
		f(codes, cskip, scales, sskip, sbytes, sstep, x, ubytes, rows, pf, &t.values, acc, rowc, srow, arow)
	}
}

// gemv512Asm is an AVX-512 decode-dot kernel, which also takes rowc, the
// code bytes from one weight row to the next, to run two rows side by side.
type gemv512Asm func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, tab *[16]float32, acc *float32, rowc int)

func withValues(f gemv512Asm) gemvFunc {
	return func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, t *codeTable, acc *float32) {
		rowc := sbytes/sstep*ubytes + cskip
		f(codes, cskip, scales, sskip, sbytes, sstep, x, ubytes, rows, pf, &t.values, acc, rowc)
	}
}
