package cpu

// gemvWideUnit is the number of codes the wide one-row kernel decodes from
// one load: 64 bytes, two 64-code blocks.
const gemvWideUnit = 128

// wideOrder[p] is the position, within 128 codes, of the p-th value the
// wide kernel decodes: vector t's lane j is code 8j+t.
var wideOrder = func() (o [gemvWideUnit]int) {
	for p := range o {
		o[p] = 8*(p%16) + p/16
	}
	return o
}()

// gemvWideFor returns the set's wide one-row kernel for blocks of B codes,
// or nil.
func (k *vecKernels) gemvWideFor(B int) gemvFunc {
	switch {
	case B == 64:
		return k.gemv1w
	case B > 64:
		return k.gemv1wb
	}
	return nil
}

// gemvWide computes out[N] = x·Wᵀ for one activation row with fn, a wide
// kernel (see gemvWideFor), bands of W's rows split across workers. A
// step of the kernel is two 64-code blocks or one larger block; a row's
// last 64-code block, when K/64 is odd, is done here in Go.
func gemvWide(fn gemvFunc, out, x []float32, w *Weights) {
	N, K, B := w.Rows, w.Cols, w.BlockSize
	ku := K / gemvWideUnit * gemvWideUnit
	perRow, nb := K/B, ku/B
	sstep, ubytes := 4, B/2
	if B == 64 {
		sstep, ubytes = 8, gemvWideUnit/2
	}
	xp := make([]float32, ku)
	for u := 0; u < ku; u += gemvWideUnit {
		d, src := xp[u:u+gemvWideUnit], x[u:u+gemvWideUnit]
		for p, o := range wideOrder {
			d[p] = src[o]
		}
	}
	t := w.table()
	bands := (N + gemvBand - 1) / gemvBand
	parallelFor(bands, 1, func(lo, hi int) {
		acc := make([]float32, gemvBand*8)
		var buf []float32
		if w.Scales.Double() {
			buf = make([]float32, gemvBand*nb)
		}
		for band := lo; band < hi; band++ {
			n0 := band * gemvBand
			rows := min(gemvBand, N-n0)
			clear(acc)
			first := n0 * perRow
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
			fn(&w.Codes[n0*K/2], (K-ku)/2, &sc[0], sskip, 4*nb, sstep, &xp[0], ubytes, rows, gemvAhead, t, &acc[0])
			for r := range rows {
				n := n0 + r
				out[n] = sum8(acc[r*8:])
				for b := n*perRow + nb; b < (n+1)*perRow; b++ {
					out[n] += w.Scales.At(b) * decodeDot(w.Codes[b*B/2:(b+1)*B/2], x[b*B-n*K:(b+1)*B-n*K], &t.pairs)
				}
			}
		}
	})
}
