package cpu

// amxKernel is the AMX-BF16 tile kernel: a 32×32 block of c (float32,
// rows ldc bytes apart) = a · b over 32·ksteps values of k, a holding bf16
// rows lda bytes apart and b 32 columns in pair layout (see linearAMX).
type amxKernel func(a *uint16, lda int, b *uint16, c *float32, ldc int, ksteps int)

// amxDecodeFunc decodes blocks·blockSize codes (blockSize a multiple of
// 32) to bf16 values in element order, each code's value times its
// block's scale, rounded as toBF16.
type amxDecodeFunc func(dst *uint16, codes *byte, scales *float32, blocks, blockSize int, tab *[16]float32)

// amxKernels is a kernel set's AMX path: the tile kernel, the decode of
// weight rows it multiplies, and ready, which reports whether this process
// may run them (the CPU has AMX-BF16 and the OS granted the tile state).
type amxKernels struct {
	tile   amxKernel
	decode amxDecodeFunc
	ready  func() bool
}

// amxMinRows is the smallest batch LinearBF16 runs on tiles: a tile of x
// holds 16 of its rows, so fewer would leave most of each multiply unused.
const amxMinRows = 16

// amxBlock is the kernel's block: 32 weight rows by 32 rows of x, and the
// 32 values of k a tile row of W holds.
const amxBlock = 32

// AMXKernels reports whether LinearBF16 runs the AMX-BF16 tile kernel for
// batches of 16 rows or more with the kernel set in use: on a CPU with
// AMX-BF16, where the OS granted the tile state to this process.
func AMXKernels() bool { return active != nil && active.amx != nil && active.amx.ready() }

// linearAMX is LinearBF16 on tiles, which compute out's transpose: the
// a operand is 32 rows of W, decoded (scaled and rounded to bf16) a panel
// of 32 rows at a time into plain rows; the b operand is 32 rows of x,
// rounded to bf16 once into the pair layout TDPBF16PS reads (row p holds,
// for each of the 32 rows in turn, the values of k = 2p and 2p+1), padded
// with zero rows to a multiple of 32. The panels are shared out among the
// threads; each multiplies its panel by every 32-row block of x. K is a
// multiple of the block size, so of 32, as a tile row of W needs.
func linearAMX(k *amxKernels, out, x []float32, m int, w *Weights) {
	N, K, B := w.Rows, w.Cols, w.BlockSize
	mp := (m + amxBlock - 1) / amxBlock * amxBlock
	xt := make([]uint16, mp*K)
	// By 32-row blocks, so that no two threads write one cache line.
	parallelFor(mp/amxBlock, 1, func(lo, hi int) {
		for i := lo * amxBlock; i < min(m, hi*amxBlock); i++ {
			dst := xt[i/amxBlock*amxBlock*K+2*(i%amxBlock):]
			for p, v := range x[i*K : (i+1)*K] {
				dst[p/2*2*amxBlock+p%2] = toBF16(v)
			}
		}
	})
	values := &w.table().values
	perRow := K / B
	panels := (N + amxBlock - 1) / amxBlock
	// Panel rows are 64 bytes longer than K's values, so that the 16 rows
	// one tile load reads (K a power of two times 64 bytes apart otherwise)
	// do not all fall in one cache set.
	ldp := K + amxBlock
	parallelFor(panels, 1, func(lo, hi int) {
		panel := make([]uint16, amxBlock*ldp)
		c := make([]float32, amxBlock*amxBlock)
		var buf []float32
		if w.Scales.Double() {
			buf = make([]float32, perRow)
		}
		for p := lo; p < hi; p++ {
			n0 := p * amxBlock
			rows := min(amxBlock, N-n0)
			// Weight rows past N are zero.
			clear(panel[rows*ldp:])
			for j := range rows {
				first := (n0 + j) * perRow
				scales := rowScales(&w.Scales, first, perRow, buf)
				k.decode(&panel[j*ldp], &w.Codes[first*B/2], &scales[0], perRow, B, values)
			}
			for i0 := 0; i0 < mp; i0 += amxBlock {
				k.tile(&panel[0], 2*ldp, &xt[i0*K], &c[0], 4*amxBlock, K/amxBlock)
				for i := i0; i < min(m, i0+amxBlock); i++ {
					o := out[i*N+n0 : i*N+n0+rows]
					for j := range o {
						o[j] = c[j*amxBlock+i-i0]
					}
				}
			}
		}
	})
}

// decodeBF16Go is amxDecodeFunc in plain Go.
func decodeBF16Go(dst []uint16, codes []byte, scales []float32, blockSize int, values *[16]float32) {
	var tab [16]uint16
	for b, s := range scales {
		for v := range tab {
			tab[v] = toBF16(values[v] * s)
		}
		for i, c := range codes[b*blockSize/2 : (b+1)*blockSize/2] {
			dst[b*blockSize+2*i] = tab[c&15]
			dst[b*blockSize+2*i+1] = tab[c>>4]
		}
	}
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
