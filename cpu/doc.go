// Package cpu holds the NF4 kernels for the CPU: quantize, dequantize and
// the fused matrix products, on plain slices.
//
// The package knows nothing of gorgonia. A weight W[N, K] is stored row-major
// in blocks of BlockSize consecutive values along K: block (n, j) covers
// W[n, j*B : (j+1)*B] and has index n*(K/B)+j. Codes are 4 bits, two per byte,
// element 2i in the low nibble. Each block has one float32 scale (its absmax),
// stored plainly or double-quantized (see Scales).
//
// Work is split across GOMAXPROCS goroutines.
package cpu
