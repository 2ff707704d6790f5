package cpu

import "unsafe"

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
// or nil: where the set has the kernel for two rows at a time, it runs
// the first half of each band of rows beside the second half (rows in
// different 4 KiB pages; see gemv512WidePairs), the odd one out alone.
func (k *vecKernels) gemvWideFor(B int) gemvFunc {
	single, pairs := k.gemv1w, k.gemv1wp
	switch {
	case B == 64:
	case B > 64:
		single, pairs = k.gemv1wb, k.gemv1wbp
	default:
		return nil
	}
	if single == nil || pairs == nil {
		return single
	}
	return func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, t *codeTable, acc *float32) {
		p := pairRows(rows, cskip, sskip, sbytes, sstep, ubytes)
		if p.h > 0 {
			pairs(codes, cskip, scales, sskip, sbytes, sstep, x, ubytes, p.h, pf, t, acc, p.rowc, p.srow, p.arow)
		}
		if rows > 2*p.h {
			codes, scales, acc = p.last(codes, scales, acc)
			single(codes, cskip, scales, sskip, sbytes, sstep, x, ubytes, 1, pf, t, acc)
		}
	}
}

// rowPairs is how a two-rows-at-a-time kernel takes a band's rows: the
// first h beside the next h, their partners rowc code bytes, srow scale
// bytes and arow bytes of sums on; an odd last row is left over.
type rowPairs struct{ h, rowc, srow, arow int }

// pairRows pairs rows rows of a band, laid out as the band loop passes
// them to a kernel (cskip, sskip, sbytes, sstep, ubytes as gemvFunc's).
func pairRows(rows, cskip, sskip, sbytes, sstep, ubytes int) rowPairs {
	h := rows / 2
	return rowPairs{h: h, rowc: h * (sbytes/sstep*ubytes + cskip), srow: h * (sbytes + sskip), arow: h * 8 * 4}
}

// last returns the codes, scales and sums of the row past the paired ones.
func (p rowPairs) last(codes *byte, scales, acc *float32) (*byte, *float32, *float32) {
	return (*byte)(unsafe.Add(unsafe.Pointer(codes), 2*p.rowc)),
		(*float32)(unsafe.Add(unsafe.Pointer(scales), 2*p.srow)),
		(*float32)(unsafe.Add(unsafe.Pointer(acc), 2*p.arow))
}

// wideBands plans a wide one-row kernel's pass over w: whole rows of the
// columns its 128-code loads cover (ku), and its step, two 64-code blocks
// (sstep = 8 scale bytes, ubytes = 64 code bytes) or one larger block.
func wideBands(w *Weights) (p gemvBands, sstep, ubytes int) {
	ku := w.Cols / gemvWideUnit * gemvWideUnit
	p = gemvBands{w: w, m: 1, ku: ku, kc: ku, pf: gemvAhead}
	if w.BlockSize == 64 {
		return p, 8, gemvWideUnit / 2
	}
	return p, 4, w.BlockSize / 2
}

// gemvWide computes out[N] = x·Wᵀ for one activation row with fn, a wide
// kernel (see gemvWideFor), bands of W's rows split across workers. A
// step of the kernel is two 64-code blocks or one larger block; a row's
// last 64-code block, when K/64 is odd, is done here in Go.
func gemvWide(fn gemvFunc, out, x []float32, w *Weights) {
	p, sstep, ubytes := wideBands(w)
	ku := p.ku
	xp := make([]float32, ku)
	for u := 0; u < ku; u += gemvWideUnit {
		d, src := xp[u:u+gemvWideUnit], x[u:u+gemvWideUnit]
		for p, o := range wideOrder {
			d[p] = src[o]
		}
	}
	t := w.table()
	p.run(out, func(codes *byte, cskip int, scales *float32, sskip, sbytes, _, rows int, acc *float32) {
		fn(codes, cskip, scales, sskip, sbytes, sstep, &xp[0], ubytes, rows, p.pf, t, acc)
	}, func(codes []byte, s float32, _, col int) float32 {
		return s * decodeDot(codes, x[col:][:len(codes)*2], &t.nibbles)
	})
}
