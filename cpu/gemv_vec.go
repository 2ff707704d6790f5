package cpu

// gemvL1 bounds the activations one pass of the decode-dot reads (all M
// rows of one K chunk), so they stay in L1 while a band of W streams by.
const (
	gemvL1   = 16 << 10
	gemvBand = 64
)

// gemvVec computes out[M, N] = x·Wᵀ for M ≤ GEMVMaxRows with the fused
// decode-dot kernel, bands of W's rows split across workers.
func gemvVec(k *vecKernels, out, x []float32, m int, w *Weights) {
	N, K, B := w.Rows, w.Cols, w.BlockSize
	perRow := K / B
	// The kernel decodes each group of 16 codes as evens then odds; x is
	// reordered once to match, so the inner loop needs no shuffles. Rows
	// are padded by one cache line: at a power-of-two stride they would
	// all map to the same L1 set.
	ld := K + 16
	xp := make([]float32, m*ld)
	for i := range m {
		splitGroups(xp[i*ld:i*ld+K], x[i*K:(i+1)*K])
	}
	kc := max(B, min(K, gemvL1/(4*m))/B*B)
	pf := streamAhead
	if kc < K {
		pf = kc / 2 // the same row's next chunk
	}
	fn := k.gemv[m]
	bands := (N + gemvBand - 1) / gemvBand
	parallelFor(bands, 1, func(lo, hi int) {
		acc := make([]float32, gemvBand*m*8)
		var buf []float32
		if w.Scales.Double() {
			buf = make([]float32, gemvBand*kc/B)
		}
		for band := lo; band < hi; band++ {
			n0 := band * gemvBand
			rows := min(gemvBand, N-n0)
			for k0 := 0; k0 < K; k0 += kc {
				kt := min(kc, K-k0)
				nb := kt / B
				first := n0*perRow + k0/B
				var sc []float32
				sskip := 4 * (perRow - nb)
				if buf != nil {
					sc = buf[:rows*nb]
					for r := range rows {
						rowScales(&w.Scales, first+r*perRow, nb, sc[r*nb:])
					}
					sskip = 0
				} else {
					sc = w.Scales.Absmax[first : first+(rows-1)*perRow+nb]
				}
				fn(&w.Codes[(n0*K+k0)/2], (K-kt)/2, &sc[0], sskip, &xp[k0], ld, nb, B, rows, pf, &Codebook, &acc[0])
				for r := range rows {
					n := n0 + r
					for i := range m {
						v := sum8(acc[(r*m+i)*8:])
						if k0 > 0 {
							v += out[i*N+n]
						}
						out[i*N+n] = v
					}
				}
			}
		}
	})
}

// splitGroups copies src into dst with each group of 16 values reordered
// as its 8 even-indexed values, then its 8 odd ones.
func splitGroups(dst, src []float32) {
	for g := 0; g+16 <= len(src); g += 16 {
		s, d := src[g:g+16], dst[g:g+16]
		for j := range 8 {
			d[j], d[8+j] = s[2*j], s[2*j+1]
		}
	}
}

func sum8(a []float32) float32 {
	a = a[:8]
	return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}
