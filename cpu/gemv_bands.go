package cpu

// gemvChunk runs a decode-dot kernel over one K chunk of a band of rows:
// codes points at the band's first code byte of the chunk, cskip is the
// bytes from one row's chunk end to the next row's start, scales and
// sskip the chunk's scales and the bytes between rows of them, sbytes a
// row's scale bytes in the chunk, k0 the chunk's first column (the
// kernel's x starts at k0·m in the packed order), and acc the band's
// accumulators, 8 per row of the band and of x.
type gemvChunk func(codes *byte, cskip int, scales *float32, sskip, sbytes, k0, rows int, acc *float32)

// gemvTail returns the dot product of codes, a block of a row past the
// kernels' whole units, scaled by scale, with row i of x from column col.
type gemvTail func(codes []byte, scale float32, i, col int) float32

// gemvBands is the band loop both decode-dot drivers share: bands of
// gemvBand rows of W split across workers, each swept in K chunks of the
// packed x that fit L1, with double-quantized scales decoded per chunk.
type gemvBands struct {
	w *Weights
	m int
	// ku is the columns the kernels cover, whole units; the blocks of a
	// row past them are done by the tail.
	ku int
	// step is the codes per scale step of the kernels (a block, or a
	// unit of two 32-code blocks, one per 128-bit lane); sstep the scale
	// bytes per step.
	step, sstep int
	// kc is the columns of one chunk, pf the kernels' prefetch distance
	// in code bytes.
	kc, pf int
}

// newGemvBands plans the product of m rows of x, packed at xBytes bytes
// a value, with w; ku is zero when K is shorter than one unit.
func newGemvBands(w *Weights, m, xBytes int) gemvBands {
	K, B := w.Cols, w.BlockSize
	p := gemvBands{w: w, m: m, ku: K / gemvUnit * gemvUnit, step: max(B, gemvUnit), sstep: 4}
	if B < gemvUnit {
		p.sstep = 8
	}
	p.kc = max(p.step, min(p.ku, gemvL1/(xBytes*m))/p.step*p.step)
	if m == 1 {
		// One row reads 256 bytes of x per 32 bytes of codes, which L2
		// serves as fast as the kernel decodes, so whole rows go at once
		// and W streams in order.
		p.kc = p.ku
	}
	p.pf = gemvAhead
	if p.kc < p.ku {
		// A band is swept chunk by chunk, one row after another, which
		// the hardware prefetcher does not follow: fetch the next band
		// instead, each code the kernel reads pulling in the same
		// position one band further on.
		p.pf = gemvBand * K / 2
	}
	return p
}

// run computes out[M, N] band by band with chunk, adding tail for the
// columns past ku.
func (p gemvBands) run(out []float32, chunk gemvChunk, tail gemvTail) {
	w, m, ku, kc := p.w, p.m, p.ku, p.kc
	N, K, B := w.Rows, w.Cols, w.BlockSize
	perRow := K / B
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
				chunk(&w.Codes[(n0*K+k0)/2], (K-kt)/2, &sc[0], sskip, 4*nb, k0, rows, &acc[0])
			}
			for r := range rows {
				n := n0 + r
				for i := range m {
					out[i*N+n] = sum8(acc[(r*m+i)*8:])
				}
				for b := n*perRow + ku/B; b < (n+1)*perRow; b++ {
					codes := w.Codes[b*B/2 : (b+1)*B/2]
					s, col := w.Scales.At(b), b*B-n*K
					for i := range m {
						out[i*N+n] += tail(codes, s, i, col)
					}
				}
			}
		}
	})
}

// packUnits puts m rows of x (K columns) into dst unit by unit, the m
// rows of a unit side by side, each unit in the kernels' decode order,
// converting each value with conv: the inner loops then need no shuffles
// for x and read it at fixed offsets.
func packUnits[T any](dst []T, x []float32, m, K, ku int, order *[gemvUnit]int, conv func(float32) T) {
	for u := 0; u < ku; u += gemvUnit {
		for i := range m {
			d, src := dst[u*m+i*gemvUnit:][:gemvUnit], x[i*K+u:][:gemvUnit]
			for p, o := range order {
				d[p] = conv(src[o])
			}
		}
	}
}

func sum8(a []float32) float32 {
	a = a[:8]
	return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

// inSlices runs f, a product for at most GEMVMaxRows rows of x, on slices
// of x as even as they can be: each slice reads W once more.
func inSlices(out, x []float32, m int, w *Weights, f func(out, x []float32, m int)) {
	N, K := w.Rows, w.Cols
	slices := (m + GEMVMaxRows - 1) / GEMVMaxRows
	for i, done := 0, 0; i < slices; i++ {
		rows := (m - done) / (slices - i)
		f(out[done*N:(done+rows)*N], x[done*K:(done+rows)*K], rows)
		done += rows
	}
}
