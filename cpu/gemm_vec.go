package cpu

// Panel sizes for the vector GEMM. Forward reduces over K, so a panel is
// gemmRows rows of W by one K chunk; backward reduces over N, so taller
// panels make each micro-kernel call run longer.
const (
	gemmRows     = 64
	gemmBackRows = 256
	gemmCols     = 256
)

// gemmWidth is the K chunk of a panel: whole blocks, about gemmCols wide,
// so a 16-column slice of the activations fits in L1.
func gemmWidth(blockSize int) int { return max(blockSize, gemmCols/blockSize*blockSize) }

// gemmVec computes out[M, N] = x·Wᵀ for larger M: each worker takes bands
// of W's rows, decodes one chunk of them at a time into a float32 panel
// that stays in L2, and runs the micro-kernel over it. It works on the
// transposed product (C = W·xᵀ) so the panel is read row-major and the
// activations come from a transposed copy padded to the 16-wide tile.
func gemmVec(k *vecKernels, t *tile, out, x []float32, m int, w *Weights) {
	N, K, B := w.Rows, w.Cols, w.BlockSize
	nr, mr := t.nr, t.mr()
	mp := (m + nr - 1) / nr * nr
	xt := packColumns(x, m, K, mp, nr)
	kc := gemmWidth(B)
	bands := (N + gemmRows - 1) / gemmRows
	parallelFor(bands, 1, func(lo, hi int) {
		panel := make([]float32, gemmRows*kc)
		ct := make([]float32, gemmRows*mp)
		buf := make([]float32, kc/B)
		for band := lo; band < hi; band++ {
			n0 := band * gemmRows
			rows := min(gemmRows, N-n0)
			clear(ct)
			for k0 := 0; k0 < K; k0 += kc {
				kt := min(kc, K-k0)
				decodePanel(k, panel, kt, w, n0, rows, k0, kt, buf)
				for c0 := 0; c0 < mp; c0 += nr {
					for r0 := 0; r0 < rows; r0 += mr {
						r := min(mr, rows-r0)
						t.kern[r](&panel[r0*kt], kt, 1, &xt[c0*K+k0*nr], nr, &ct[r0*mp+c0], mp, kt)
					}
				}
			}
			for r := range rows {
				for i := range m {
					out[i*N+n0+r] = ct[r*mp+i]
				}
			}
		}
	})
}

// gemmBackwardVec computes dx[M, K] = dy·W: each worker owns chunks of
// W's columns (so of dx) and runs over all of N for them. A decoded panel
// of W is already laid out as the micro-kernel's right operand (rows of
// W, contiguous along K), so dy needs no transpose and the products land
// directly in dx.
func gemmBackwardVec(k *vecKernels, t *tile, dx, dy []float32, m int, w *Weights) {
	N, K, B := w.Rows, w.Cols, w.BlockSize
	nr, mr := t.nr, t.mr()
	kc := gemmWidth(B)
	// Panel rows are padded by a cache line so that walking down a column
	// of the panel does not keep hitting the same L1 sets.
	ld := kc + 16
	// dy's rows get the same padding: the kernel reads six of them side
	// by side.
	ldy := N + 16
	dyp := make([]float32, m*ldy)
	for i := range m {
		copy(dyp[i*ldy:i*ldy+N], dy[i*N:(i+1)*N])
	}
	chunks := (K + kc - 1) / kc
	parallelFor(chunks, 1, func(lo, hi int) {
		panel := make([]float32, gemmBackRows*ld)
		buf := make([]float32, kc/B)
		for c := lo; c < hi; c++ {
			k0 := c * kc
			kt := min(kc, K-k0)
			for i := range m {
				clear(dx[i*K+k0 : i*K+k0+kt])
			}
			for n0 := 0; n0 < N; n0 += gemmBackRows {
				rows := min(gemmBackRows, N-n0)
				decodePanel(k, panel, ld, w, n0, rows, k0, kt, buf)
				for c0 := 0; c0 < kt; c0 += nr {
					for i0 := 0; i0 < m; i0 += mr {
						r := min(mr, m-i0)
						t.kern[r](&dyp[i0*ldy+n0], ldy, 1, &panel[c0], ld, &dx[i0*K+k0+c0], K, rows)
					}
				}
			}
		}
	})
}

// packColumns transposes a[m, n] into strips of nr rows of a, each strip
// stored column by column (n×nr, contiguous) and zero-padded to mp rows:
// the micro-kernel then streams one contiguous strip, which a row stride
// of mp floats would spread over few L1 sets.
func packColumns(a []float32, m, n, mp, nr int) []float32 {
	p := make([]float32, n*mp)
	for i := range m {
		strip := p[i/nr*n*nr:]
		for c, v := range a[i*n : (i+1)*n] {
			strip[c*nr+i%nr] = v
		}
	}
	return p
}

// decodePanel writes W[n0:n0+rows, k0:k0+kt] (scaled) into panel, row-major
// with row stride ld; double-quantized scales are decoded per row chunk.
// Panels advance along K, so each row prefetches its next chunk.
func decodePanel(k *vecKernels, panel []float32, ld int, w *Weights, n0, rows, k0, kt int, buf []float32) {
	B, K := w.BlockSize, w.Cols
	nb := kt / B
	for r := range rows {
		b := ((n0+r)*K + k0) / B
		sc := rowScales(&w.Scales, b, nb, buf)
		k.decode(&panel[r*ld], &w.Codes[b*B/2], &sc[0], nb, B, kt/2, &w.table().values)
	}
}
