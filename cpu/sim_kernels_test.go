package cpu

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"github.com/nf4go/nf4/cpu/internal/asmsim"
)

// The simulated kernel sets run the committed assembly of each set in
// asmsim, so every kernel is tested on every machine, including sets the
// CPU lacks. Each simulated call gets exactly the memory its arguments say
// the kernel may touch (a wider access faults); where the CPU has the set,
// the same call also runs natively and the results must match bit for bit.

// simArg is one argument word of a simulated call: a value, or a pointer
// with the spans from it that the kernel may access: n bytes, or rows
// spans of n bytes, stride bytes apart.
type simArg struct {
	p            unsafe.Pointer
	n            int
	rows, stride int
	value        int
}

func simPtr[T any](p *T, n int) simArg { return simArg{p: unsafe.Pointer(p), n: n, rows: 1} }
func simInt(v int) simArg              { return simArg{value: v} }

// simRows is rows spans of n bytes from p, stride bytes apart: a strided
// operand whose gaps other goroutines may be writing.
func simRows[T any](p *T, rows, n, stride int) simArg {
	return simArg{p: unsafe.Pointer(p), n: n, rows: rows, stride: stride}
}

func (a simArg) span(i int) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(a.p, i*a.stride)), a.n)
}

// simSet runs one kernel set's assembly file in the simulator.
type simSet struct {
	t     testing.TB
	prog  *asmsim.Program
	mu    sync.Mutex
	seen  map[string]int // executed instructions by mnemonic
	calls map[string]int // calls by function
}

// simPrograms caches the parsed assembly files (fuzz tests build a
// simulated set per input).
var simPrograms struct {
	sync.Mutex
	byFile map[string]*asmsim.Program
}

func loadSimSet(t testing.TB, file string) *simSet {
	t.Helper()
	simPrograms.Lock()
	defer simPrograms.Unlock()
	p := simPrograms.byFile[file]
	if p == nil {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if p, err = asmsim.Parse(file, string(src)); err != nil {
			t.Fatal(err)
		}
		if simPrograms.byFile == nil {
			simPrograms.byFile = map[string]*asmsim.Program{}
		}
		simPrograms.byFile[file] = p
	}
	return &simSet{t: t, prog: p, seen: map[string]int{}, calls: map[string]int{}}
}

// call runs fn on copies of the arguments' memory; native, if not nil,
// runs the same kernel natively on the real memory first. The simulated
// results are then written to the real memory, and the simulated return
// word is returned.
func (s *simSet) call(fn string, native func() int, args ...simArg) int {
	m := asmsim.NewMachine(s.prog)
	words := make([]uint64, len(args))
	for i, a := range args {
		if a.p == nil {
			words[i] = uint64(a.value)
			continue
		}
		words[i] = m.Reserve((a.rows-1)*a.stride+a.n, int(uintptr(a.p)%4096))
		for r := range a.rows {
			if err := m.MapAt(words[i]+uint64(r*a.stride), a.span(r)); err != nil {
				s.t.Errorf("%s: argument %d: %v", fn, i, err)
				return -1
			}
		}
	}
	nativeRet := 0
	if native != nil {
		nativeRet = native()
	}
	frame, err := m.Call(fn, words...)
	if err != nil {
		s.t.Errorf("simulated %s: %v", fn, err)
		return -1
	}
	ret := 0
	if len(frame) > len(args) {
		ret = int(frame[len(args)])
	}
	for i, a := range args {
		for r := 0; a.p != nil && r < a.rows; r++ {
			real, sim := a.span(r), m.Bytes(words[i]+uint64(r*a.stride))
			if bytes.Equal(real, sim) {
				continue // inputs are shared between goroutines: only write what changed
			}
			if native != nil {
				j := 0
				for real[j] == sim[j] {
					j++
				}
				s.t.Errorf("%s: argument %d span %d byte %d is %#x simulated, %#x natively", fn, i, r, j, sim[j], real[j])
			}
			copy(real, sim)
		}
	}
	if native != nil && ret != nativeRet {
		s.t.Errorf("%s: returns %d simulated, %d natively", fn, ret, nativeRet)
	}
	s.mu.Lock()
	s.calls[fn]++
	for op, n := range m.Seen {
		s.seen[op] += n
	}
	s.mu.Unlock()
	return ret
}

// requireExercised fails t unless every kernel of the file has run in the
// simulator and every mnemonic in it has executed; it returns how many
// mnemonics the file has.
func (s *simSet) requireExercised(t testing.TB) int {
	t.Helper()
	var uncalled, never []string
	ops := map[string]bool{}
	for name, f := range s.prog.Funcs {
		if s.calls[name] == 0 {
			uncalled = append(uncalled, name)
		}
		for _, in := range f.Insts {
			ops[in.Op] = true
		}
	}
	for op := range ops {
		if s.seen[op] == 0 {
			never = append(never, op)
		}
	}
	slices.Sort(uncalled)
	slices.Sort(never)
	if len(uncalled) > 0 {
		t.Errorf("%s: kernels never run in the simulator: %v", s.prog.File, uncalled)
	}
	if len(never) > 0 {
		t.Errorf("%s: instructions never executed in the simulator: %v", s.prog.File, never)
	}
	return len(ops)
}

// gemvArgs lists a decode-dot call's arguments with the extents the
// kernel may touch: rows of steps of ubytes codes, cskip between rows;
// scales rows of sbytes, sskip between; m activation rows per unit; m·8
// accumulators per row; the table (tabBytes).
func gemvArgs(m int, codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, tab unsafe.Pointer, tabBytes int, acc *float32) []simArg {
	steps := sbytes / sstep
	return []simArg{
		simPtr(codes, rows*steps*ubytes+(rows-1)*cskip), simInt(cskip),
		simPtr(scales, rows*sbytes+(rows-1)*sskip), simInt(sskip), simInt(sbytes), simInt(sstep),
		simPtr(x, 4*m*steps*ubytes*2), simInt(ubytes), simInt(rows), simInt(pf),
		{p: tab, n: tabBytes, rows: 1}, simPtr(acc, 4*rows*m*8),
	}
}

// simGEMV is the simulated decode-dot kernel fn for m rows; avx512 says
// it is an AVX-512 kernel (the value table and rowc), else AVX2 (planes).
func (s *simSet) simGEMV(fn string, m int, avx512 bool, native gemvFunc) gemvFunc {
	return func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, t *codeTable, acc *float32) {
		var run func() int
		if native != nil {
			run = func() int {
				native(codes, cskip, scales, sskip, sbytes, sstep, x, ubytes, rows, pf, t, acc)
				return 0
			}
		}
		tab, tabBytes := unsafe.Pointer(&t.planes), int(unsafe.Sizeof(t.planes))
		if avx512 {
			tab, tabBytes = unsafe.Pointer(&t.values), int(unsafe.Sizeof(t.values))
		}
		args := gemvArgs(m, codes, cskip, scales, sskip, sbytes, sstep, x, ubytes, rows, pf, tab, tabBytes, acc)
		if avx512 {
			args = append(args, simInt(sbytes/sstep*ubytes+cskip))
		}
		s.call(fn, run, args...)
	}
}

// simGEMVPairs is the simulated two-rows-at-a-time one-row kernel fn: its
// memory spans cover the rows and their partners (2·rows rows when each
// partner is rows rows on, as the driver pairs them).
func (s *simSet) simGEMVPairs(fn string, native gemvPairsFunc) gemvPairsFunc {
	return func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *float32, ubytes, rows, pf int, t *codeTable, acc *float32, rowc, srow, arow int) {
		var run func() int
		if native != nil {
			run = func() int {
				native(codes, cskip, scales, sskip, sbytes, sstep, x, ubytes, rows, pf, t, acc, rowc, srow, arow)
				return 0
			}
		}
		if got := (rowPairs{rows, rowc, srow, arow}); got != pairRows(2*rows, cskip, sskip, sbytes, sstep, ubytes) {
			s.t.Errorf("%s: partners %d, %d, %d bytes on for %d rows: not the driver's", fn, rowc, srow, arow, rows)
			return
		}
		args := gemvArgs(1, codes, cskip, scales, sskip, sbytes, sstep, x, ubytes, 2*rows, pf, unsafe.Pointer(&t.values), int(unsafe.Sizeof(t.values)), acc)
		args[8] = simInt(rows)
		s.call(fn, run, append(args, simInt(rowc), simInt(srow), simInt(arow))...)
	}
}

// simGEMVBF16Pairs is simGEMVPairs for the bf16 kernel.
func (s *simSet) simGEMVBF16Pairs(fn string, native gemvBF16PairsFunc) gemvBF16PairsFunc {
	return func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *uint16, ubytes, rows, pf int, tab *[16]float32, acc *float32, rowc, srow, arow int) {
		var run func() int
		if native != nil {
			run = func() int {
				native(codes, cskip, scales, sskip, sbytes, sstep, x, ubytes, rows, pf, tab, acc, rowc, srow, arow)
				return 0
			}
		}
		if got := (rowPairs{rows, rowc, srow, arow}); got != pairRows(2*rows, cskip, sskip, sbytes, sstep, ubytes) {
			s.t.Errorf("%s: partners %d, %d, %d bytes on for %d rows: not the driver's", fn, rowc, srow, arow, rows)
			return
		}
		args := gemvArgs(1, codes, cskip, scales, sskip, sbytes, sstep, nil, ubytes, 2*rows, pf, unsafe.Pointer(tab), int(unsafe.Sizeof(*tab)), acc)
		args[6] = simPtr(x, 2*sbytes/sstep*ubytes*2)
		args[8] = simInt(rows)
		s.call(fn, run, append(args, simInt(rowc), simInt(srow), simInt(arow))...)
	}
}

// simGEMVBF16 is the simulated bf16 decode-dot kernel fn for m rows: x
// holds two-byte values, so its extent is half a float32 kernel's.
func (s *simSet) simGEMVBF16(fn string, m int, native gemvBF16Func) gemvBF16Func {
	return func(codes *byte, cskip int, scales *float32, sskip, sbytes, sstep int, x *uint16, ubytes, rows, pf int, tab *[16]float32, acc *float32, rowc int) {
		var run func() int
		if native != nil {
			run = func() int {
				native(codes, cskip, scales, sskip, sbytes, sstep, x, ubytes, rows, pf, tab, acc, rowc)
				return 0
			}
		}
		args := gemvArgs(m, codes, cskip, scales, sskip, sbytes, sstep, nil, ubytes, rows, pf, unsafe.Pointer(tab), int(unsafe.Sizeof(*tab)), acc)
		args[6] = simPtr(x, 2*m*sbytes/sstep*ubytes*2)
		s.call(fn, run, append(args, simInt(rowc))...)
	}
}

type decodeFunc = func(dst *float32, codes *byte, scales *float32, blocks, blockSize, pf int, tab *[16]float32)

func (s *simSet) simDecode(fn string, native decodeFunc) decodeFunc {
	return func(dst *float32, codes *byte, scales *float32, blocks, blockSize, pf int, tab *[16]float32) {
		var run func() int
		if native != nil {
			run = func() int { native(dst, codes, scales, blocks, blockSize, pf, tab); return 0 }
		}
		n := blocks * blockSize
		s.call(fn, run, simPtr(dst, 4*n), simPtr(codes, n/2), simPtr(scales, 4*blocks), simInt(blocks), simInt(blockSize), simInt(pf), simPtr(tab, 64))
	}
}

// simFill is the write-bandwidth loop fn: *v stored to steps·128 bytes.
func (s *simSet) simFill(fn string, native func(dst *float32, steps int, v *float32)) func(dst *float32, steps int, v *float32) {
	return func(dst *float32, steps int, v *float32) {
		var run func() int
		if native != nil {
			run = func() int { native(dst, steps, v); return 0 }
		}
		s.call(fn, run, simPtr(dst, 128*steps), simInt(steps), simPtr(v, 4))
	}
}

type microKernel = func(a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, k int)

// simGEMM is the r×nr micro-kernel fn: c[r, nr] += a[r, k]·b[k, nr], a with
// row stride rs and column stride ps, b with row stride ldb, c with ldc.
func (s *simSet) simGEMM(fn string, r, nr int, native microKernel) microKernel {
	return func(a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, k int) {
		var run func() int
		if native != nil {
			run = func() int { native(a, rs, ps, b, ldb, c, ldc, k); return 0 }
		}
		s.call(fn, run, simPtr(a, 4*((r-1)*rs+(k-1)*ps+1)), simInt(rs), simInt(ps), simPtr(b, 4*((k-1)*ldb+nr)), simInt(ldb), simRows(c, r, 4*nr, 4*ldc), simInt(ldc), simInt(k))
	}
}

type quantizeFunc = func(codes *byte, absmax *float32, src *float32, blocks, blockSize int, t *codeTable) int

func (s *simSet) simQuantize(fn string, avx512 bool, native quantizeFunc) quantizeFunc {
	return func(codes *byte, absmax *float32, src *float32, blocks, blockSize int, t *codeTable) int {
		var run func() int
		if native != nil {
			run = func() int { return native(codes, absmax, src, blocks, blockSize, t) }
		}
		k, kBytes := unsafe.Pointer(&t.quant), int(unsafe.Sizeof(t.quant))
		if avx512 {
			k, kBytes = unsafe.Pointer(&t.quant512), int(unsafe.Sizeof(t.quant512))
		}
		n := blocks * blockSize
		return s.call(fn, run, simPtr(codes, n/2), simPtr(absmax, 4*blocks), simPtr(src, 4*n), simInt(blocks), simInt(blockSize), simArg{p: k, n: kBytes, rows: 1})
	}
}

// simPeak is the simulated peak loop fn over lanes lanes; a is read as
// raw bits, so it serves the float32 and the bf16 loop alike.
func (s *simSet) simPeak(fn string, lanes int, native func(n int, a, out *float32)) func(n int, a, out *float32) {
	return func(n int, a, out *float32) {
		var run func() int
		if native != nil {
			run = func() int { native(n, a, out); return 0 }
		}
		s.call(fn, run, simInt(n), simPtr(a, 4*lanes), simPtr(out, 4*lanes))
	}
}

// nativePeak is set n's float32 or bf16 peak loop, with a as raw bits;
// nil where n has none.
func nativePeak(n *vecKernels, bf16 bool) func(rounds int, a, out *float32) {
	switch {
	case n.peak == nil:
		return nil
	case !bf16:
		return n.peak.fma
	case n.peak.bf16 == nil:
		return nil
	}
	f := n.peak.bf16
	return func(rounds int, a, out *float32) { f(rounds, (*uint32)(unsafe.Pointer(a)), out) }
}

// simulatedSet builds kernel set name ("avx2" or "avx512") from its
// assembly file, run in the simulator; native is the same set run natively
// where this CPU has it, else nil.
func simulatedSet(t testing.TB, name string, native *vecKernels) (*vecKernels, *simSet) {
	n := native
	if n == nil {
		n = new(vecKernels) // no native kernels: every field nil
	}
	nativeKern := func(r int) microKernel {
		if r < len(n.gemm.kern) {
			return n.gemm.kern[r]
		}
		return nil
	}
	k := &vecKernels{name: "simulated " + name}
	var s *simSet
	switch name {
	case "avx2":
		s = loadSimSet(t, "nf4_amd64.s")
		for m := 1; m <= GEMVMaxRows; m++ {
			k.gemv[m] = s.simGEMV(fmt.Sprintf("gemvAVX2x%d", m), m, false, n.gemv[m])
		}
		k.gemv1s = s.simGEMV("gemvAVX2x1s", 1, false, n.gemv1s)
		k.order = &unitOrder
		k.gemm.nr = 16
		k.gemm.kern = make([]func(*float32, int, int, *float32, int, *float32, int, int), 7)
		for r := 1; r <= 6; r++ {
			k.gemm.kern[r] = s.simGEMM(fmt.Sprintf("gemmAVX2x%dx16", r), r, 16, nativeKern(r))
		}
		k.decode = s.simDecode("decodeAVX2", n.decode)
		k.decodeStream = s.simDecode("decodeAVX2Stream", n.decodeStream)
		k.fill = s.simFill("streamFillAVX2", n.fill)
		k.quantize = s.simQuantize("quantizeAVX2", false, n.quantize)
		k.peak = &peakLoops{fma: s.simPeak("peakFMAAVX2", 8, nativePeak(n, false)), lanes: 8, chains: peakChainsAVX2}
	case "avx512":
		s = loadSimSet(t, "nf4_avx512_amd64.s")
		for m := 1; m <= GEMVMaxRows; m++ {
			k.gemv[m] = s.simGEMV(fmt.Sprintf("gemvAVX512x%d", m), m, true, n.gemv[m])
		}
		k.gemv1s = s.simGEMV("gemvAVX512x1s", 1, true, n.gemv1s)
		k.gemv1w = s.simGEMV("gemvAVX512x1w", 1, true, n.gemv1w)
		k.gemv1wb = s.simGEMV("gemvAVX512x1wb", 1, true, n.gemv1wb)
		k.gemv1wp = s.simGEMVPairs("gemvAVX512x1wp", n.gemv1wp)
		k.gemv1wbp = s.simGEMVPairs("gemvAVX512x1wbp", n.gemv1wbp)
		k.order = &unitOrder512
		k.gemm.nr = 32
		k.gemm.kern = make([]func(*float32, int, int, *float32, int, *float32, int, int), 13)
		for r := 1; r <= 12; r++ {
			k.gemm.kern[r] = s.simGEMM(fmt.Sprintf("gemmAVX512x%dx32", r), r, 32, nativeKern(r))
		}
		k.decode = s.simDecode("decodeAVX512", n.decode)
		k.decodeStream = s.simDecode("decodeAVX512Stream", n.decodeStream)
		k.fill = s.simFill("streamFillAVX512", n.fill)
		k.quantize = s.simQuantize("quantizeAVX512", true, n.quantize)
		// The bf16 kernels are simulated whether or not this CPU has
		// AVX512_BF16; natively they run only where it does.
		k.gemvBF16 = new([GEMVMaxRows + 1]gemvBF16Func)
		for m := 2; m <= GEMVMaxRows; m++ {
			var nf gemvBF16Func
			if n.gemvBF16 != nil {
				nf = n.gemvBF16[m]
			}
			k.gemvBF16[m] = s.simGEMVBF16(fmt.Sprintf("gemvBF16AVX512x%d", m), m, nf)
		}
		k.gemvBF16w = s.simGEMVBF16("gemvBF16AVX512x1w", 1, n.gemvBF16w)
		k.gemvBF16wp = s.simGEMVBF16Pairs("gemvBF16AVX512x1wp", n.gemvBF16wp)
		var nt tileKernel
		if n.tilesBF16 != nil {
			nt = n.tilesBF16.tile
		}
		k.tilesBF16 = &tileKernels{
			tile:   s.simTileBF16("tileBF16AVX512x32x32", nt),
			decode: s.simDecodeBF16("decodeBF16AVX512", nativeDecodeBF16()),
			ready:  func() bool { return true },
		}
		k.tilesFrom = bf16TilesFrom
		// Like the bf16 kernels, the VDPBF16PS loop is simulated
		// everywhere, run natively only where the CPU has it.
		bf16 := s.simPeak("peakBF16AVX512", 16, nativePeak(n, true))
		k.peak = &peakLoops{
			fma: s.simPeak("peakFMAAVX512", 16, nativePeak(n, false)), lanes: 16, chains: peakChainsAVX512,
			bf16:       func(n int, a *uint32, out *float32) { bf16(n, (*float32)(unsafe.Pointer(a)), out) },
			bf16Chains: peakChainsAVX512,
		}
	default:
		t.Fatalf("no kernel set %q", name)
	}
	return k, s
}
