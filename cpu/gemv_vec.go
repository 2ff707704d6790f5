package cpu

// gemvL1 bounds the activations one pass of the decode-dot reads (all M
// rows of one K chunk), so they stay in L1 while a band of W streams by.
const (
	gemvL1   = 16 << 10
	gemvBand = 64
	// gemvUnit is the number of codes the kernels decode at once: 32
	// bytes, one vector register.
	gemvUnit = 64
	// gemvAhead is the prefetch distance, in code bytes, when whole rows
	// stream by: a page, so that each page's translation and first miss
	// are under way well before the kernel reaches it (the hardware
	// prefetcher stops at page boundaries).
	gemvAhead = 4096
)

// unitOrder[p] is the position, within a 64-code unit, of the p-th value
// the kernels decode: the low nibbles (even positions) first, then the
// high ones; within each half, vector q, lane l, element e comes from code
// byte 16l+4q+e (the order of VPUNPCKL/H within 128-bit lanes).
var unitOrder = func() (o [gemvUnit]int) {
	for p := range o {
		h, q, l, e := p/32, p/8%4, p/4%2, p%4
		o[p] = 2*(16*l+4*q+e) + h
	}
	return o
}()

// unitOrder512 is the order of the AVX-512 kernels: each half of the unit
// (16 code bytes) gives its low nibbles (even positions), then its high
// ones.
var unitOrder512 = func() (o [gemvUnit]int) {
	for p := range o {
		g, h, e := p/32, p/16%2, p%16
		o[p] = 2*(16*g+e) + h
	}
	return o
}()

// unitOrderBF16 is the order of the bf16 kernels: the unit's even codes
// (low nibbles), then its odd ones.
var unitOrderBF16 = func() (o [gemvUnit]int) {
	for p := range o {
		o[p] = 2*(p%32) + p/32
	}
	return o
}()

// gemvVec computes out[M, N] = x·Wᵀ for M ≤ GEMVMaxRows with the fused
// decode-dot kernel, bands of W's rows split across workers.
func gemvVec(k *vecKernels, out, x []float32, m int, w *Weights) {
	N, K, B := w.Rows, w.Cols, w.BlockSize
	if m == 1 && K >= gemvWideUnit {
		if fn := k.gemvWideFor(B); fn != nil {
			gemvWide(fn, out, x, w)
			return
		}
	}
	// The kernels cover whole 64-code units; with 32-code blocks a row
	// can end in one more block, done here in Go.
	ku := K / gemvUnit * gemvUnit
	if ku == 0 {
		parallelFor(N, 16, func(lo, hi int) { gemvRows(out, x, m, w, lo, hi) })
		return
	}
	perRow := K / B
	step := max(B, gemvUnit) // codes per scale step of the kernel
	sstep := 4
	if B < gemvUnit {
		sstep = 8 // a step is two blocks, one per 128-bit lane
	}
	// x is put once in the order the kernels decode in, unit by unit with
	// the m rows of a unit side by side, so the inner loop needs no
	// shuffles for it and reads it at fixed offsets.
	xp := make([]float32, m*ku)
	for u := 0; u < ku; u += gemvUnit {
		for i := range m {
			d, src := xp[u*m+i*gemvUnit:][:gemvUnit], x[i*K+u:][:gemvUnit]
			for p, o := range k.order {
				d[p] = src[o]
			}
		}
	}
	kc := max(step, min(ku, gemvL1/(4*m))/step*step)
	if m == 1 {
		// One row reads 256 bytes of x per 32 bytes of codes, which L2
		// serves as fast as the kernel decodes, so whole rows go at once
		// and W streams in order.
		kc = ku
	}
	pf := gemvAhead
	if kc < ku {
		// A band is swept chunk by chunk, one row after another, which
		// the hardware prefetcher does not follow: fetch the next band
		// instead, each code the kernel reads pulling in the same
		// position one band further on.
		pf = gemvBand * K / 2
	}
	fn := k.gemv[m]
	if m == 1 && step == gemvUnit && k.gemv1s != nil {
		fn = k.gemv1s
	}
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
			clear(acc)
			for k0 := 0; k0 < ku; k0 += kc {
				kt := min(kc, ku-k0)
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
				fn(&w.Codes[(n0*K+k0)/2], (K-kt)/2, &sc[0], sskip, 4*nb, sstep, &xp[k0*m], step/2, rows, pf, w.table(), &acc[0])
			}
			for r := range rows {
				n := n0 + r
				for i := range m {
					out[i*N+n] = sum8(acc[(r*m+i)*8:])
				}
				if ku < K {
					b := n*perRow + perRow - 1
					s := w.Scales.At(b)
					codes := w.Codes[b*B/2 : (b+1)*B/2]
					for i := range m {
						out[i*N+n] += s * decodeDot(codes, x[i*K+ku:(i+1)*K], &w.table().pairs)
					}
				}
			}
		}
	})
}

func sum8(a []float32) float32 {
	a = a[:8]
	return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

// gemvSlices computes out[M, N] = x·Wᵀ for any M with the decode-dot
// kernels, in slices of at most GEMVMaxRows rows of x, as even as they
// can be: each slice reads W once more.
func gemvSlices(k *vecKernels, out, x []float32, m int, w *Weights) {
	N, K := w.Rows, w.Cols
	slices := (m + GEMVMaxRows - 1) / GEMVMaxRows
	for i, done := 0, 0; i < slices; i++ {
		rows := (m - done) / (slices - i)
		gemvVec(k, out[done*N:(done+rows)*N], x[done*K:(done+rows)*K], rows, w)
		done += rows
	}
}
