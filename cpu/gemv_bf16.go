package cpu

// gemvBF16Func is a bf16 decode-dot kernel: a gemvFunc whose x holds bf16
// values, which reads the table's 16 values and takes rowc, the code
// bytes from one weight row to the next, to run two rows side by side.
type gemvBF16Func func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *uint16, ubytes, rows, pf int, tab *[16]float32, acc *float32, rowc int)

// gemvBF16PairsFunc is gemvBF16Func for rows weight rows and their
// partners rowc code bytes, srow scale bytes and arow bytes of sums on.
type gemvBF16PairsFunc func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *uint16, ubytes, rows, pf int, tab *[16]float32, acc *float32, rowc, srow, arow int)

// gemvBF16 is gemvVec with the bf16 kernels: x is rounded to bf16 once,
// as it is packed in the kernels' order, and each kernel rounds the
// decoded, scaled weights before it multiplies.
func gemvBF16(k *vecKernels, out, x []float32, m int, w *Weights) {
	K := w.Cols
	// The chunk of x a band sweeps is sized to L1 as in gemvVec, at two
	// bytes a value (8 to 32 KiB measured the same at M = 4 and 8).
	p := newGemvBands(w, m, 2)
	if p.ku == 0 {
		linearBF16Go(out, x, m, w)
		return
	}
	xp := make([]uint16, m*p.ku)
	packUnits(xp, x, m, K, p.ku, &unitOrderBF16, toBF16)
	fn, values := k.gemvBF16[m], &w.table().values
	p.run(out, func(codes *byte, cskip int, scales *float32, sskip, sbytes, k0, rows int, acc *float32) {
		fn(codes, cskip, scales, sskip, sbytes, p.sstep, &xp[k0*m], p.step/2, rows, p.pf, values, acc, K/2)
	}, func(codes []byte, s float32, i, col int) float32 {
		return decodeDotBF16(codes, x[i*K+col:][:len(codes)*2], s, values)
	})
}

// wideOrderBF16[p] is the position, within 128 codes, of the p-th value
// the wide bf16 kernel decodes: vector t's word j is code 4j+t.
var wideOrderBF16 = func() (o [gemvWideUnit]int) {
	for p := range o {
		o[p] = 4*(p%32) + p/32
	}
	return o
}()

// gemvWideBF16 is gemvWide with the one-row bf16 kernel fn, for blocks of
// 64 codes or more (the same wideBands plan): x is rounded to bf16 once, in the kernel's order, and
// a row's last 64-code block, when K/64 is odd, is done in Go.
func gemvWideBF16(fn gemvBF16Func, pairs gemvBF16PairsFunc, out, x []float32, w *Weights) {
	p, sstep, ubytes := wideBands(w)
	ku := p.ku
	xp := make([]uint16, ku)
	for u := 0; u < ku; u += gemvWideUnit {
		d, src := xp[u:u+gemvWideUnit], x[u:u+gemvWideUnit]
		for p, o := range wideOrderBF16 {
			d[p] = toBF16(src[o])
		}
	}
	values := &w.table().values
	p.run(out, func(codes *byte, cskip int, scales *float32, sskip, sbytes, _, rows int, acc *float32) {
		// As gemvWideFor: each row beside the one half the band on, where
		// the set has the kernel for that; the odd one out alone.
		if pairs == nil {
			fn(codes, cskip, scales, sskip, sbytes, sstep, &xp[0], ubytes, rows, p.pf, values, acc, 0)
			return
		}
		pr := pairRows(rows, cskip, sskip, sbytes, sstep, ubytes)
		if pr.h > 0 {
			pairs(codes, cskip, scales, sskip, sbytes, sstep, &xp[0], ubytes, pr.h, p.pf, values, acc, pr.rowc, pr.srow, pr.arow)
		}
		if rows > 2*pr.h {
			codes, scales, acc = pr.last(codes, scales, acc)
			fn(codes, cskip, scales, sskip, sbytes, sstep, &xp[0], ubytes, 1, p.pf, values, acc, 0)
		}
	}, func(codes []byte, s float32, _, col int) float32 {
		return decodeDotBF16(codes, x[col:][:len(codes)*2], s, values)
	})
}
