package cpu

import (
	"fmt"
	"math"
)

// vecKernels is one set of vector kernels (one instruction-set level). The
// drivers in this package call them on whole blocks only; anything they do
// not cover stays on the pure-Go path.
type vecKernels struct {
	name string
	// gemv[m] is the fused decode-dot for m activation rows (1..8).
	// Kernels that stream codes prefetch pf bytes ahead of where they read.
	gemv   [GEMVMaxRows + 1]gemvFunc
	gemv1s gemvFunc // gemv[1] for blocks of at most 64 codes
	// gemv1w and gemv1wb, if not nil, are gemv[1] for 64-code blocks and
	// for larger ones, 128 codes at a time (see gemvWide); gemv1wp and
	// gemv1wbp, if not nil, the same two weight rows at a time.
	gemv1w, gemv1wb   gemvFunc
	gemv1wp, gemv1wbp gemvPairsFunc
	// gemvBF16[m], if not nil, is the bf16 decode-dot for m = 2..8
	// activation rows (see LinearBF16).
	gemvBF16 *[GEMVMaxRows + 1]gemvBF16Func
	// gemvBF16w, if not nil, is the bf16 decode-dot for one row, 128
	// codes at a time, for blocks of 64 codes or more (see gemvWideBF16).
	gemvBF16w gemvBF16Func
	// gemvBF16wp, if not nil, is gemvBF16w two weight rows at a time
	// (rows and partners, as gemvPairsFunc).
	gemvBF16wp gemvBF16PairsFunc
	// amx, if not nil, is the AMX-BF16 path of LinearBF16 for 16 rows or
	// more, run where amx.ready() reports true.
	amx *tileKernels
	// tilesBF16, if not nil, is LinearBF16's path for batches of
	// tilesFrom rows or more where the AMX path does not run: its driver
	// and layouts with a tile kernel of vector instructions (VDPBF16PS).
	tilesBF16 *tileKernels
	tilesFrom int
	// order is the order the gemv kernels decode a 64-code unit in
	// (order[p] is the position of the p-th value); x is packed in it.
	order *[gemvUnit]int
	gemm  tile // the panel GEMM's micro-kernels
	// slicesUpTo is the largest batch for which gemv in slices of at most
	// GEMVMaxRows rows beats the panel GEMM, measured side by side by
	// BenchmarkRoute: the GEMM decodes all of W into panels whatever M is.
	slicesUpTo int
	decode     func(dst *float32, codes *byte, scales *float32, blocks, blockSize, pf int, tab *[16]float32)
	// decodeStream, if not nil, is decode with stores that bypass the
	// caches, into a 64-byte aligned dst (32 for avx2): for outputs larger
	// than the caches, which then are not read before they are written.
	decodeStream func(dst *float32, codes *byte, scales *float32, blocks, blockSize, pf int, tab *[16]float32)
	// quantize reads its constants from t (quant or quant512).
	quantize func(codes *byte, absmax *float32, src *float32, blocks, blockSize int, t *codeTable) int
	// peak is the set's arithmetic peak loops (MeasurePeak).
	peak *peakLoops
	// fill, if not nil, stores *v to steps·128 bytes of a 64-byte aligned
	// dst with the stores decodeStream uses (StreamFill).
	fill func(dst *float32, steps int, v *float32)
}

// bf16TilesFrom is the smallest batch the avx512 set's VDPBF16PS tile
// path takes. Zen 5, 4096² (BenchmarkRouteBF16): the bf16 slices win at
// 16 and 24 rows, the tiles from 32 (4.2 against 4.8 ms) to 128.
const bf16TilesFrom = 32

// gemvFunc is a decode-dot kernel; see gemvVec for its arguments. Each
// kernel set reads its own part of the code table t.
type gemvFunc func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, t *codeTable, acc *float32)

// gemvPairsFunc is a one-row decode-dot kernel that runs rows weight rows
// and, beside each, its partner: rowc code bytes, srow scale bytes and
// arow bytes of sums further on. Other arguments as gemvFunc.
type gemvPairsFunc func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, t *codeTable, acc *float32, rowc, srow, arow int)

// tile is a family of micro-kernels: kern[r] multiplies r rows of a
// decoded panel (r = 1..len(kern)-1) by nr activation rows.
type tile struct {
	nr   int
	kern []func(a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, k int)
}

func (t *tile) mr() int { return len(t.kern) - 1 }

// active is the kernel set in use; nil means pure Go. It is chosen once at
// start-up (the best set the CPU supports); UseKernels and tests change it.
var active = bestKernels()

func bestKernels() *vecKernels {
	if v := vecVariants(); len(v) > 0 {
		return v[0]
	}
	return nil
}

// Kernels names the kernel set in use: "purego" or an instruction set.
func Kernels() string {
	if active == nil {
		return "purego"
	}
	return active.name
}

// KernelSets lists the kernel sets this CPU can run, best first; "purego"
// is always last.
func KernelSets() []string {
	var names []string
	for _, k := range vecVariants() {
		names = append(names, k.name)
	}
	return append(names, "purego")
}

// UseKernels switches every kernel to the named set (one of KernelSets),
// for benchmarks and comparisons. It must not run concurrently with other
// calls into the package.
func UseKernels(name string) error {
	if name == "purego" {
		active = nil
		return nil
	}
	for _, k := range vecVariants() {
		if k.name == name {
			active = k
			return nil
		}
	}
	return fmt.Errorf("kernel set %q not available here (have %v)", name, KernelSets())
}

// streamAhead is the prefetch distance, in code bytes, for a kernel
// reading codes sequentially.
const streamAhead = 512

// quantConsts feeds the vector quantizer, rows of 8 identical lanes: the 15
// bounds of a code table in sort order, 1.0, the absolute-value mask,
// MaxFloat32's bits, a byte-gather mask, MinScale, and the table's sort
// order (rank → code) as two rows of 8 dwords for a VPERMPS lookup.
type quantConsts = [22][8]uint32

func newQuantConsts(t *codeTable) (k quantConsts) {
	for i := range 20 {
		var v uint32
		switch {
		case i < 15:
			v = math.Float32bits(t.bounds[i])
		case i == 15:
			v = math.Float32bits(1)
		case i == 16:
			v = 0x7fffffff
		case i == 17:
			v = math.Float32bits(math.MaxFloat32)
		case i == 19:
			v = math.Float32bits(MinScale)
		}
		for j := range k[i] {
			k[i][j] = v
		}
	}
	for j := range k[18] {
		k[18][j] = 0x80808080
	}
	k[18][0], k[18][4] = 0x80800800, 0x80800800
	for j := range 8 {
		k[20][j], k[21][j] = uint32(t.order[j]), uint32(t.order[8+j])
	}
	return k
}

// quantConsts512 feeds the AVX-512 quantizer: the 15 bounds of a code
// table in sort order and a zero, the sort order (rank → code), then
// MinScale, 1.0, MaxFloat32's bits, the absolute-value mask and the
// integers 1, 2, 3, 4, 8.
type quantConsts512 = [41]uint32

func newQuantConsts512(t *codeTable) (k quantConsts512) {
	for i, b := range t.bounds {
		k[i] = math.Float32bits(b)
	}
	for i, o := range t.order {
		k[16+i] = uint32(o)
	}
	copy(k[32:], []uint32{math.Float32bits(MinScale), math.Float32bits(1), math.Float32bits(math.MaxFloat32), 0x7fffffff, 1, 2, 3, 4, 8})
	return k
}

// rowScales returns the scales of blocks [first, first+n): the plain slice,
// or double-quantized ones decoded into buf.
func rowScales(s *Scales, first, n int, buf []float32) []float32 {
	if !s.Double() {
		return s.Absmax[first : first+n]
	}
	buf = buf[:n]
	for i := range buf {
		buf[i] = s.At(first + i)
	}
	return buf
}
