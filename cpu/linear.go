package cpu

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// GEMVMaxRows is the largest batch one decode-dot kernel takes. Larger
// batches decode tiles of W into a panel and run a matrix product on it,
// or, up to a size each vector kernel set measured, run the decode-dot
// kernels on slices of at most GEMVMaxRows rows.
const GEMVMaxRows = 8

// panelRows and panelCols size the decoded tile of W (64×512 float32 is
// 128 KiB: it stays in L2 while the product runs over it).
const (
	panelRows = 64
	panelCols = 512
)

// Linear computes out[M, N] = x[M, K] · Wᵀ, decoding W as it goes (no full
// float copy of W is made).
func Linear(out, x []float32, m int, w *Weights) error {
	k := active
	if k == nil {
		return linear(out, x, m, w)
	}
	if err := checkOperands(w, m, len(x), len(out), w.Cols, w.Rows); err != nil {
		return err
	}
	switch {
	case m <= GEMVMaxRows:
		gemvVec(k, out, x, m, w)
	case m <= k.slicesUpTo:
		gemvSlices(k, out, x, m, w)
	default:
		gemmVec(k, &k.gemm, out, x, m, w)
	}
	return nil
}

// Linear64 is Linear on float64 activations.
func Linear64(out, x []float64, m int, w *Weights) error { return linear(out, x, m, w) }

// LinearBackward computes dx[M, K] = dy[M, N] · W, the gradient of Linear
// with respect to x.
func LinearBackward(dx, dy []float32, m int, w *Weights) error {
	k := active
	if k == nil {
		return linearBackward(dx, dy, m, w)
	}
	if err := checkOperands(w, m, len(dy), len(dx), w.Rows, w.Cols); err != nil {
		return err
	}
	gemmBackwardVec(k, &k.gemm, dx, dy, m, w)
	return nil
}

// LinearBackward64 is LinearBackward on float64 activations.
func LinearBackward64(dx, dy []float64, m int, w *Weights) error {
	return linearBackward(dx, dy, m, w)
}

type float interface{ float32 | float64 }

func checkOperands(w *Weights, m int, in, out, inCols, outCols int) error {
	if err := w.CheckProduct(); err != nil {
		return err
	}
	switch {
	case m <= 0:
		return fmt.Errorf("batch of %d rows: want at least one", m)
	case in != m*inCols:
		return fmt.Errorf("input has %d values, want %d×%d", in, m, inCols)
	case out != m*outCols:
		return fmt.Errorf("output has %d values, want %d×%d", out, m, outCols)
	}
	return nil
}

func linear[T float](out, x []T, m int, w *Weights) error {
	if err := checkOperands(w, m, len(x), len(out), w.Cols, w.Rows); err != nil {
		return err
	}
	if m <= GEMVMaxRows {
		parallelFor(w.Rows, 16, func(lo, hi int) { gemvRows(out, x, m, w, lo, hi) })
		return nil
	}
	N, K := w.Rows, w.Cols
	kc := panelWidth(w.BlockSize)
	gemm := gemmFor[T]()
	panels := (N + panelRows - 1) / panelRows
	parallelFor(panels, 1, func(lo, hi int) {
		panel := make([]T, panelRows*kc)
		for p := lo; p < hi; p++ {
			n0 := p * panelRows
			nt := min(panelRows, N-n0)
			for k0 := 0; k0 < K; k0 += kc {
				kt := min(kc, K-k0)
				decodeTile(panel[:nt*kt], w, n0, nt, k0, kt)
				beta := T(1)
				if k0 == 0 {
					beta = 0
				}
				gemm(blas.NoTrans, blas.Trans, m, nt, kt, 1, x[k0:], K, panel, kt, beta, out[n0:], N)
			}
		}
	})
	return nil
}

func linearBackward[T float](dx, dy []T, m int, w *Weights) error {
	if err := checkOperands(w, m, len(dy), len(dx), w.Rows, w.Cols); err != nil {
		return err
	}
	N, K := w.Rows, w.Cols
	kc := panelWidth(w.BlockSize)
	gemm := gemmFor[T]()
	chunks := (K + kc - 1) / kc
	// Each worker owns a band of columns of dx, so no two write the same value.
	parallelFor(chunks, 1, func(lo, hi int) {
		panel := make([]T, panelRows*kc)
		for c := lo; c < hi; c++ {
			k0 := c * kc
			kt := min(kc, K-k0)
			for n0 := 0; n0 < N; n0 += panelRows {
				nt := min(panelRows, N-n0)
				decodeTile(panel[:nt*kt], w, n0, nt, k0, kt)
				beta := T(1)
				if n0 == 0 {
					beta = 0
				}
				gemm(blas.NoTrans, blas.NoTrans, m, kt, nt, 1, dy[n0:], N, panel, kt, beta, dx[k0:], K)
			}
		}
	})
	return nil
}

// panelWidth is the number of columns decoded at once: whole blocks, about
// panelCols of them.
func panelWidth(blockSize int) int { return max(blockSize, panelCols/blockSize*blockSize) }

// decodeTile writes W[n0:n0+nt, k0:k0+kt] (scaled) into dst, row-major with
// row stride kt. k0 and kt are multiples of the block size.
func decodeTile[T float](dst []T, w *Weights, n0, nt, k0, kt int) {
	B, K := w.BlockSize, w.Cols
	table := tableFor[T](w)
	for r := range nt {
		n := n0 + r
		for k := k0; k < k0+kt; k += B {
			b := (n*K + k) / B
			s := T(w.Scales.At(b))
			decodeScaled(dst[r*kt+k-k0:r*kt+k-k0+B], w.Codes[b*B/2:(b+1)*B/2], s, table)
		}
	}
}

// gemvRows computes out[:, lo:hi] for a small batch: each block of a row is
// decoded once and dotted with every row of x, and the block's scale is
// applied once to each partial sum.
func gemvRows[T float](out, x []T, m int, w *Weights, lo, hi int) {
	if m == 1 {
		gemvRows1(out, x, w, lo, hi)
		return
	}
	B, K, N := w.BlockSize, w.Cols, w.Rows
	table := tableFor[T](w)
	perRow := K / B
	buf := make([]T, B)
	var acc [GEMVMaxRows]T
	for n := lo; n < hi; n++ {
		clear(acc[:m])
		for j := range perRow {
			b := n*perRow + j
			s := T(w.Scales.At(b))
			decodeScaled(buf, w.Codes[b*B/2:(b+1)*B/2], 1, table)
			for i := range m {
				acc[i] += s * dot(buf, x[i*K+j*B:i*K+(j+1)*B])
			}
		}
		for i := range m {
			out[i*N+n] = acc[i]
		}
	}
}

// gemvRows1 is gemvRows for one row of x: a row's scales are fetched (or
// decoded) at once, and decodeDot (inlined) sums each block.
func gemvRows1[T float](out, x []T, w *Weights, lo, hi int) {
	B, K := w.BlockSize, w.Cols
	perRow := K / B
	t := tableFor[T](w)
	var buf []float32
	if w.Scales.Double() {
		buf = make([]float32, perRow)
	}
	x = x[:K]
	for n := lo; n < hi; n++ {
		codes := w.Codes[n*K/2 : (n+1)*K/2]
		var acc T
		for j, s := range rowScales(&w.Scales, n*perRow, perRow, buf) {
			acc += T(s) * decodeDot(codes[j*B/2:(j+1)*B/2], x[j*B:(j+1)*B], t)
		}
		out[n] = acc
	}
}

// decodeDot returns Σ code(c)·x over one block, decoding as it reads
// (table is a codeTable's nibbles). The loop reslices rather than indexes
// so that it runs without bounds checks; each of four sums takes one add
// per eight values, the rest are summed in pairs, so the adds' latency
// stays hidden and the loads (code, value, x) are the only limit.
func decodeDot[T float](codes []byte, x []T, table *[512]T) T {
	var s0, s1, s2, s3 T
	t := table
	x = x[:2*len(codes)]
	for len(codes) >= 8 && len(x) >= 16 {
		c, v := codes[:8], x[:16]
		s0 += (t[c[0]]*v[0] + t[256+uint(c[0])]*v[1]) + (t[c[1]]*v[2] + t[256+uint(c[1])]*v[3])
		s1 += (t[c[2]]*v[4] + t[256+uint(c[2])]*v[5]) + (t[c[3]]*v[6] + t[256+uint(c[3])]*v[7])
		s2 += (t[c[4]]*v[8] + t[256+uint(c[4])]*v[9]) + (t[c[5]]*v[10] + t[256+uint(c[5])]*v[11])
		s3 += (t[c[6]]*v[12] + t[256+uint(c[6])]*v[13]) + (t[c[7]]*v[14] + t[256+uint(c[7])]*v[15])
		codes, x = codes[8:], x[16:]
	}
	for i, c := range codes {
		s0 += t[c]*x[2*i] + t[256+uint(c)]*x[2*i+1]
	}
	return (s0 + s1) + (s2 + s3)
}

func dot[T float](a, b []T) T {
	var s0, s1, s2, s3 T
	b = b[:len(a)]
	i := 0
	for ; i+3 < len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// tableFor returns the weight's nibble table (see codeTable) in the
// activations' type.
func tableFor[T float](w *Weights) *[512]T {
	var t any
	switch any(T(0)).(type) {
	case float32:
		t = &w.table().nibbles
	default:
		t = &w.table().nibbles64
	}
	return t.(*[512]T)
}

type gemmFunc[T float] func(tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)

func gemmFor[T float]() gemmFunc[T] {
	var f any
	switch any(T(0)).(type) {
	case float32:
		f = gemmFunc[float32](gonum.Implementation{}.Sgemm)
	default:
		f = gemmFunc[float64](gonum.Implementation{}.Dgemm)
	}
	return f.(gemmFunc[T])
}
