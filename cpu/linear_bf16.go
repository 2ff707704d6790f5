package cpu

// LinearBF16 computes out[M, N] = x[M, K] · Wᵀ at bf16 precision: each
// activation and each decoded, scaled weight is rounded to bfloat16 (to
// nearest even) and the products are summed in float32, so the result is
// within about 1e-2 (normwise, relative) of the exact product, and faster
// than Linear where the CPU multiplies bf16 pairs natively.
//
// The bf16 kernels run where BF16Kernels reports true (the avx512 kernel
// set on a CPU with AVX512_BF16), for batches of 1 to GEMVMaxRows rows,
// and in slices of those up to the size where Linear itself switches from
// slices to its panel GEMM. One row with blocks of 32 codes or K under
// 128, larger batches, and every batch on other CPUs or kernel sets run
// Linear's exact float32 path, which is both more accurate and there no
// slower.
//
// Where AMXKernels reports true, batches of 16 rows or more run on the
// AMX-BF16 tiles instead (same rounding of each operand; the sums' order
// is the hardware's). Without AMX, batches of 32 rows or more (where it
// measured faster than the slices) run the same tiled product with a
// VDPBF16PS tile kernel (see linearTiled); the sums then go pair by pair
// along k.
func LinearBF16(out, x []float32, m int, w *Weights) error {
	k := active
	if k != nil && k.amx != nil && m >= amxMinRows && k.amx.ready() {
		if err := checkOperands(w, m, len(x), len(out), w.Cols, w.Rows); err != nil {
			return err
		}
		linearTiled(k.amx, out, x, m, w)
		return nil
	}
	if k == nil || k.gemvBF16 == nil {
		return Linear(out, x, m, w)
	}
	if err := checkOperands(w, m, len(x), len(out), w.Cols, w.Rows); err != nil {
		return err
	}
	switch {
	case k.tilesBF16 != nil && m >= k.tilesFrom:
		linearTiled(k.tilesBF16, out, x, m, w)
	case m == 1:
		if k.gemvBF16w == nil || w.Cols < gemvWideUnit || w.BlockSize < 64 {
			return Linear(out, x, m, w)
		}
		gemvWideBF16(k.gemvBF16w, k.gemvBF16wp, out, x, w)
	case m <= GEMVMaxRows:
		gemvBF16(k, out, x, m, w)
	case m <= k.slicesUpTo:
		inSlices(out, x, m, w, func(out, x []float32, m int) { gemvBF16(k, out, x, m, w) })
	default:
		gemmVec(k, &k.gemm, out, x, m, w)
	}
	return nil
}

// BF16Kernels reports whether LinearBF16 runs bf16 kernels with the kernel
// set in use; if not, it is Linear.
func BF16Kernels() bool { return active != nil && active.gemvBF16 != nil }
