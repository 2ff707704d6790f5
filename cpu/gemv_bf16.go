package cpu

// gemvBF16Func is a bf16 decode-dot kernel: a gemvFunc whose x holds bf16
// values, which reads the table's 16 values and takes rowc, the code
// bytes from one weight row to the next, to run two rows side by side.
type gemvBF16Func func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *uint16, ubytes, rows, pf int, tab *[16]float32, acc *float32, rowc int)

// gemvBF16 is gemvVec with the bf16 kernels: x is rounded to bf16 once,
// as it is packed in the kernels' order, and each kernel rounds the
// decoded, scaled weights before it multiplies.
func gemvBF16(k *vecKernels, out, x []float32, m int, w *Weights) {
	N, K, B := w.Rows, w.Cols, w.BlockSize
	values := &w.table().values
	ku := K / gemvUnit * gemvUnit
	if ku == 0 {
		linearBF16Go(out, x, m, w)
		return
	}
	perRow := K / B
	step := max(B, gemvUnit)
	sstep := 4
	if B < gemvUnit {
		sstep = 8
	}
	xp := make([]uint16, m*ku)
	for u := 0; u < ku; u += gemvUnit {
		for i := range m {
			d, src := xp[u*m+i*gemvUnit:][:gemvUnit], x[i*K+u:][:gemvUnit]
			for p, o := range &unitOrderBF16 {
				d[p] = toBF16(src[o])
			}
		}
	}
	// The chunk of x a band sweeps is sized to L1 as in gemvVec, at two
	// bytes a value (8 to 32 KiB measured the same at M = 4 and 8).
	kc := max(step, min(ku, gemvL1/(2*m))/step*step)
	if m == 1 {
		kc = ku
	}
	pf := gemvAhead
	if kc < ku {
		pf = gemvBand * K / 2
	}
	fn := k.gemvBF16[m]
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
				fn(&w.Codes[(n0*K+k0)/2], (K-kt)/2, &sc[0], sskip, 4*nb, sstep, &xp[k0*m], step/2, rows, pf, values, &acc[0], K/2)
			}
			for r := range rows {
				n := n0 + r
				for i := range m {
					out[i*N+n] = sum8(acc[(r*m+i)*8:])
				}
				if ku < K {
					// A row's last 32-code block, past the kernel's units.
					b := n*perRow + perRow - 1
					codes := w.Codes[b*B/2 : (b+1)*B/2]
					for i := range m {
						out[i*N+n] += decodeDotBF16(codes, x[i*K+ku:(i+1)*K], w.Scales.At(b), values)
					}
				}
			}
		}
	})
}

// inSlices runs f, a product for at most GEMVMaxRows rows of x, on slices
// of x as even as they can be.
func inSlices(out, x []float32, m int, w *Weights, f func(out, x []float32, m int)) {
	N, K := w.Rows, w.Cols
	slices := (m + GEMVMaxRows - 1) / GEMVMaxRows
	for i, done := 0, 0; i < slices; i++ {
		rows := (m - done) / (slices - i)
		f(out[done*N:(done+rows)*N], x[done*K:(done+rows)*K], rows)
		done += rows
	}
}
