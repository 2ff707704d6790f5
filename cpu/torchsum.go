package cpu

import "math/bits"

// torchLanes is the float32 vector width of the torch kernel whose
// summation order torchMean reproduces: 8, its AVX2 kernels (the ones it
// runs on CPUs without AVX-512, and the ones the golden files were made
// with). Its AVX-512 kernels add 16 lanes at a time, which can move the
// mean by an ulp.
const torchLanes = 8

// torchMean is torch's float32 x.mean() on the CPU for a contiguous 1-D
// tensor: the cascade sum of SumKernel.cpp in float32, divided by the
// count in float32. Past torch's parallel grain (32768 values) torch
// splits the sum across its threads, which makes its result depend on the
// thread count; this is the one-thread order.
func torchMean(x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	return cascadeSum(x, torchLanes) / float32(len(x))
}

// cascadeSum is torch's cascade_sum over a contiguous float32 row on a
// kernel of the given vector width: whole vectors summed as vectors by
// row_sum, the leftover values added to a scalar, then the lanes of the
// vector sum added to it in order. Rows shorter than a vector take the
// scalar row_sum.
func cascadeSum(x []float32, lanes int) float32 {
	if len(x) < lanes {
		return rowSum(len(x), 1, func(i, _ int) float32 { return x[i] })[0]
	}
	nvec := len(x) / lanes
	vec := rowSum(nvec, lanes, func(i, lane int) float32 { return x[i*lanes+lane] })
	var s float32
	for _, v := range x[nvec*lanes:] {
		s += v
	}
	for _, v := range vec {
		s += v
	}
	return s
}

// rowSum is torch's row_sum over n elements, each a vector of the given
// number of lanes (load(i, lane)) added lane-wise: the row is read as
// n/4 rows of 4 by multiRowSum, the leftover elements go to the first of
// the four partial sums, and the four are added in order.
func rowSum(n, lanes int, load func(i, lane int) float32) []float32 {
	const ilp = 4
	rows := n / ilp
	partial := multiRowSum(rows, ilp, lanes, func(r, k, lane int) float32 { return load(r*ilp+k, lane) })
	for i := rows * ilp; i < n; i++ {
		for l := range lanes {
			partial[0][l] += load(i, l)
		}
	}
	for k := 1; k < ilp; k++ {
		for l := range lanes {
			partial[0][l] += partial[k][l]
		}
	}
	return partial[0]
}

// multiRowSum is torch's multi_row_sum: it sums size rows of nrows
// columns with four levels of accumulators, each level taking 2^p sums of
// the one below (p = max(4, ceil(log2(size))/4)), so that only sums of
// similar size meet.
func multiRowSum(size, nrows, lanes int, load func(r, k, lane int) float32) [][]float32 {
	const levels = 4
	power := max(4, ceilLog2(size)/levels)
	step := 1 << power
	mask := step - 1
	acc := make([][][]float32, levels)
	for j := range acc {
		acc[j] = make([][]float32, nrows)
		for k := range acc[j] {
			acc[j][k] = make([]float32, lanes)
		}
	}
	addInto := func(dst, src []float32) {
		for l := range dst {
			dst[l] += src[l]
		}
	}
	i := 0
	for i+step <= size {
		for range step {
			for k := range nrows {
				for l := range lanes {
					acc[0][k][l] += load(i, k, l)
				}
			}
			i++
		}
		for j := 1; j < levels; j++ {
			for k := range nrows {
				addInto(acc[j][k], acc[j-1][k])
				clear(acc[j-1][k])
			}
			if i&(mask<<(j*power)) != 0 {
				break
			}
		}
	}
	for ; i < size; i++ {
		for k := range nrows {
			for l := range lanes {
				acc[0][k][l] += load(i, k, l)
			}
		}
	}
	for j := 1; j < levels; j++ {
		for k := range nrows {
			addInto(acc[0][k], acc[j][k])
		}
	}
	return acc[0]
}

// ceilLog2 is torch's CeilLog2: 1 up to 2, then ⌈log₂ x⌉.
func ceilLog2(x int) int {
	if x <= 2 {
		return 1
	}
	return bits.Len64(uint64(x - 1))
}
