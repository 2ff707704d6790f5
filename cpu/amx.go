package cpu

// amxKernel is the AMX-BF16 tile kernel: a 32×32 block of c (float32,
// rows ldc bytes apart) = a · b over 32·ksteps values of k, a holding bf16
// rows lda bytes apart and b a 32-column panel in pair layout (see
// linearAMX).
type amxKernel func(a *uint16, lda int, b *uint16, c *float32, ldc int, ksteps int)

// amxKernels is a kernel set's AMX path: the tile kernel, and ready, which
// reports whether this process may run it (the CPU has AMX-BF16 and the OS
// granted the tile state).
type amxKernels struct {
	tile  amxKernel
	ready func() bool
}

// amxMinRows is the smallest batch LinearBF16 runs on tiles: a tile holds
// 16 rows of x, so fewer would leave most of each multiply unused.
const amxMinRows = 16

// amxBlock is the kernel's block: 32 rows of x by 32 weight rows, and the
// 32 values of k a tile row of x holds.
const amxBlock = 32

// AMXKernels reports whether LinearBF16 runs the AMX-BF16 tile kernel for
// batches of 16 rows or more with the kernel set in use: on a CPU with
// AMX-BF16, where the OS granted the tile state to this process.
func AMXKernels() bool { return active != nil && active.amx != nil && active.amx.ready() }

// linearAMX is LinearBF16 on tiles. x is rounded to bf16 once, into rows
// padded with zeros to a multiple of 32 rows and 32 values; W is decoded
// 32 weight rows (a panel) at a time, each value scaled and rounded to
// bf16, into the layout TDPBF16PS reads: row p of the panel holds, for
// each of its 32 weight rows in turn, the values of k = 2p and 2p+1. The
// panels are shared out among the threads, and each multiplies its panel
// by every 32-row block of x.
func linearAMX(tile amxKernel, out, x []float32, m int, w *Weights) {
	N, K, B := w.Rows, w.Cols, w.BlockSize
	mp := (m + amxBlock - 1) / amxBlock * amxBlock
	kp := (K + amxBlock - 1) / amxBlock * amxBlock
	a := make([]uint16, mp*kp)
	for i := range m {
		row := a[i*kp:]
		for j, v := range x[i*K : (i+1)*K] {
			row[j] = toBF16(v)
		}
	}
	values := &w.table().values
	perRow := K / B
	panels := (N + amxBlock - 1) / amxBlock
	parallelFor(panels, 1, func(lo, hi int) {
		// Rows of the panel past K, and columns past N, stay zero.
		panel := make([]uint16, kp/2*2*amxBlock)
		c := make([]float32, mp*amxBlock)
		var tab [16]uint16
		for p := lo; p < hi; p++ {
			n0 := p * amxBlock
			cols := min(amxBlock, N-n0)
			if cols < amxBlock {
				clear(panel)
			}
			for j := range cols {
				for blk := range perRow {
					b := (n0+j)*perRow + blk
					s := w.Scales.At(b)
					for v := range tab {
						tab[v] = toBF16(values[v] * s)
					}
					// Code byte i holds k = blk·B + 2i (low nibble) and the
					// next k: pair row blk·B/2 + i.
					dst := panel[blk*B/2*2*amxBlock+2*j:]
					for i, code := range w.Codes[b*B/2 : (b+1)*B/2] {
						dst[i*2*amxBlock] = tab[code&15]
						dst[i*2*amxBlock+1] = tab[code>>4]
					}
				}
			}
			for i0 := 0; i0 < mp; i0 += amxBlock {
				tile(&a[i0*kp], 2*kp, &panel[0], &c[i0*amxBlock], 4*amxBlock, kp/amxBlock)
			}
			for i := range m {
				copy(out[i*N+n0:i*N+n0+cols], c[i*amxBlock:i*amxBlock+cols])
			}
		}
	})
}

// linearAMXGo is the AMX path's arithmetic in plain Go: each product of a
// bf16 x value and a bf16 scaled weight is exact in float32, and they are
// summed one by one in the order of k, the order the TDPBF16PS pseudo-code
// gives (the hardware's may differ, as the SDM leaves it open). Denormal
// sums are not flushed, as TDPBF16PS does: random data has none.
func linearAMXGo(out, x []float32, m int, w *Weights) error {
	if err := checkOperands(w, m, len(x), len(out), w.Cols, w.Rows); err != nil {
		return err
	}
	N, K, B := w.Rows, w.Cols, w.BlockSize
	values := &w.table().values
	parallelFor(N, 16, func(lo, hi int) {
		row := make([]float32, K)
		for n := lo; n < hi; n++ {
			for j := range K / B {
				b := n*(K/B) + j
				s := w.Scales.At(b)
				for i, code := range w.Codes[b*B/2 : (b+1)*B/2] {
					row[j*B+2*i] = roundBF16(values[code&15] * s)
					row[j*B+2*i+1] = roundBF16(values[code>>4] * s)
				}
			}
			for i := range m {
				var acc float32
				for k, v := range x[i*K : (i+1)*K] {
					acc += float32(roundBF16(v) * row[k])
				}
				out[i*N+n] = acc
			}
		}
	})
	return nil
}
