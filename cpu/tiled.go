package cpu

// tileKernel is a bf16 tile kernel (AMX-BF16, or its VDPBF16PS twin on
// CPUs without AMX): a 32×32 block of c (float32, rows ldc bytes apart) =
// a · b over 32·ksteps values of k, plus c's values if acc is not 0; a
// holds bf16 rows lda bytes apart and b 32 columns in pair layout, each
// pair of bf16 values one uint32, the lower value in the low half (see
// linearTiled).
type tileKernel func(a *uint16, lda int, b *uint32, c *float32, ldc int, ksteps int, acc int)

// panelDecodeFunc decodes, for each of rows weight rows, blocks·blockSize
// codes (blockSize a multiple of 32) to bf16 values in element order, each
// code's value times its block's scale, rounded as toBF16; one row's dst,
// codes and scales are ldd, ldc and lds bytes on from the last's.
type panelDecodeFunc func(dst *uint16, ldd int, codes *byte, ldc int, scales *float32, lds int, rows, blocks, blockSize int, tab *[16]float32)

// tileKernels is a kernel set's tiled bf16 path: the tile kernel, the
// decode of weight rows it multiplies, and ready, which reports whether
// this process may run them (for AMX: the CPU has AMX-BF16 and the OS
// granted the tile state).
type tileKernels struct {
	tile   tileKernel
	decode panelDecodeFunc
	ready  func() bool
}

// tileBlock is the kernel's block: 32 weight rows by 32 rows of x, and the
// 32 values of k a tile row of W holds.
const tileBlock = 32

// tileChunk is the run of k the tiled path decodes a panel for before it
// multiplies, so that the decoded values are still in cache when the tiles
// load them: 32 weight rows of 1024 bf16 values, 64 KiB. Shorter runs
// (256, 16 KiB, which L1 holds) made the decode 1.3 to 1.5 times slower on
// Zen 5 (BenchmarkAMXPathWithoutTiles with the run changed), as each row's
// codes then come in short pieces; whole rows were a little faster still,
// but leave a 256 KiB panel (at K = 4096) for the tiles to read from L2.
// With the VDPBF16PS tiles (Zen 4, 2 cores, M = 64, 4096²) 1024 measured
// best: 7.3 ms against 7.7 for 512 or 2048 and 8.2–8.5 for whole rows.
// With the AMX tiles it is untimed.
const tileChunk = 1024

// linearTiled is LinearBF16 on tiles, which compute out's transpose: the
// a operand is 32 rows of W, decoded (scaled and rounded to bf16) a panel
// of 32 rows at a time into plain rows; the b operand is 32 rows of x,
// rounded to bf16 once into the pair layout TDPBF16PS reads (row p holds,
// for each of the 32 rows in turn, the values of k = 2p and 2p+1), padded
// with zero rows to a multiple of 32. The panels are shared out among the
// threads; each decodes its panel tileChunk values of k (or one block) at a
// time and multiplies that by every 32-row block of x, adding to the sums
// so far. K is a multiple of the block size, so of 32, as a tile row of W
// needs.
func linearTiled(k *tileKernels, out, x []float32, m int, w *Weights) {
	N, K, B := w.Rows, w.Cols, w.BlockSize
	mp := (m + tileBlock - 1) / tileBlock * tileBlock
	// xt holds x's pairs: block b's pair row p (k = 2p, 2p+1) at
	// (b·K/2 + p)·32, one uint32 for each of its 32 rows.
	xt := make([]uint32, mp*K/2)
	pair := func(src []float32, p int) uint32 {
		return uint32(toBF16(src[2*p])) | uint32(toBF16(src[2*p+1]))<<16
	}
	// By 32-row blocks, so that no two threads write one cache line; four
	// rows at a time, so that each visit to a line of xt (a row of x
	// writes one value in each) fills 16 bytes of it rather than 4.
	parallelFor(mp/tileBlock, 1, func(lo, hi int) {
		end := min(m, hi*tileBlock)
		for i := lo * tileBlock; i < end; {
			dst := xt[i/tileBlock*tileBlock*K/2+i%tileBlock:]
			if i+4 <= end {
				s0, s1, s2, s3 := x[i*K:(i+1)*K], x[(i+1)*K:(i+2)*K], x[(i+2)*K:(i+3)*K], x[(i+3)*K:(i+4)*K]
				for p := range K / 2 {
					d := dst[p*tileBlock : p*tileBlock+4]
					d[0], d[1], d[2], d[3] = pair(s0, p), pair(s1, p), pair(s2, p), pair(s3, p)
				}
				i += 4
				continue
			}
			src := x[i*K : (i+1)*K]
			for p := range K / 2 {
				dst[p*tileBlock] = pair(src, p)
			}
			i++
		}
	})
	values := &w.table().values
	perRow := K / B
	kc := min(K, max(B, tileChunk))
	// Panel rows are 64 bytes longer than the chunk, so that the 16 rows
	// one tile load reads do not all fall in one cache set.
	ldp := kc + tileBlock
	panels := (N + tileBlock - 1) / tileBlock
	parallelFor(panels, 1, func(lo, hi int) {
		panel := make([]uint16, tileBlock*ldp)
		c := make([]float32, mp*tileBlock)
		var buf []float32
		if w.Scales.Double() {
			buf = make([]float32, tileBlock*perRow)
		}
		for p := lo; p < hi; p++ {
			n0 := p * tileBlock
			rows := min(tileBlock, N-n0)
			// Weight rows past N are zero.
			clear(panel[rows*ldp:])
			// The panel's scales, perRow to a row.
			scales := rowScales(&w.Scales, n0*perRow, rows*perRow, buf)
			for k0 := 0; k0 < K; k0 += kc {
				kt := min(kc, K-k0)
				k.decode(&panel[0], 2*ldp, &w.Codes[(n0*K+k0)/2], K/2, &scales[k0/B], 4*perRow, rows, kt/B, B, values)
				acc := min(k0, 1)
				for i0 := 0; i0 < mp; i0 += tileBlock {
					k.tile(&panel[0], 2*ldp, &xt[(i0*K+k0*tileBlock)/2], &c[i0*tileBlock], 4*tileBlock, kt/tileBlock, acc)
				}
			}
			for i := range m {
				cb := c[i/tileBlock*tileBlock*tileBlock+i%tileBlock:]
				o := out[i*N+n0 : i*N+n0+rows]
				for j := range o {
					o[j] = cb[j*tileBlock]
				}
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
	return linearPairsGo(out, x, m, w, false)
}

// linearTilesGo is the VDPBF16PS tile path's arithmetic in plain Go: as
// linearAMXGo, but each pair of k values adds its second product first,
// as VDPBF16PS does.
func linearTilesGo(out, x []float32, m int, w *Weights) error {
	return linearPairsGo(out, x, m, w, true)
}

func linearPairsGo(out, x []float32, m int, w *Weights, secondFirst bool) error {
	if err := checkOperands(w, m, len(x), len(out), w.Cols, w.Rows); err != nil {
		return err
	}
	N, K, B := w.Rows, w.Cols, w.BlockSize
	values := &w.table().values
	first, second := 0, 1
	if secondFirst {
		first, second = 1, 0
	}
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
				xi := x[i*K : (i+1)*K]
				for k := 0; k < K; k += 2 {
					acc += float32(roundBF16(xi[k+first]) * row[k+first])
					acc += float32(roundBF16(xi[k+second]) * row[k+second])
				}
				out[i*N+n] = acc
			}
		}
	})
	return nil
}
