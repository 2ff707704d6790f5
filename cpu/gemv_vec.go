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
	p := newGemvBands(w, m, 4)
	if p.ku == 0 {
		parallelFor(N, 16, func(lo, hi int) { gemvRows(out, x, m, w, lo, hi) })
		return
	}
	xp := make([]float32, m*p.ku)
	packUnits(xp, x, m, K, p.ku, k.order, func(v float32) float32 { return v })
	fn := k.gemv[m]
	if m == 1 && p.step == gemvUnit && k.gemv1s != nil {
		fn = k.gemv1s
	}
	tab, nibbles := w.table(), &w.table().nibbles
	p.run(out, func(codes *byte, cskip int, scales *float32, sskip, sbytes, k0, rows int, acc *float32) {
		fn(codes, cskip, scales, sskip, sbytes, p.sstep, &xp[k0*m], p.step/2, rows, p.pf, tab, acc)
	}, func(codes []byte, s float32, i, col int) float32 {
		return s * decodeDot(codes, x[i*K+col:][:len(codes)*2], nibbles)
	})
}

// gemvSlices computes out[M, N] = x·Wᵀ for any M with the decode-dot
// kernels, in slices of at most GEMVMaxRows rows of x, as even as they
// can be: each slice reads W once more.
func gemvSlices(k *vecKernels, out, x []float32, m int, w *Weights) {
	inSlices(out, x, m, w, func(out, x []float32, m int) { gemvVec(k, out, x, m, w) })
}
