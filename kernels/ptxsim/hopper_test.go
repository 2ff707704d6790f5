package ptxsim_test

import (
	"encoding/binary"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/nf4go/nf4/kernels/ptx"
	"github.com/nf4go/nf4/kernels/ptxsim"
	"github.com/nf4go/nf4/kernels/tensormap"
)

// loadKernel prints k for sm_90a and loads it.
func loadKernel(t *testing.T, k *ptx.Kernel) *ptxsim.Kernel {
	t.Helper()
	m := ptx.NewModule()
	m.Add(k)
	src, err := m.Print(ptx.SM90a)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := ptxsim.Load(src)
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	sk, err := mod.Kernel(k.Name())
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one containing %q", err, want)
	}
}

// tmaCase configures the tensor-copy kernel.
type tmaCase struct {
	readEarly bool // read the stage before waiting on its barrier
	dstOff    int  // destination offset past the 1024-aligned tile
	expect    int  // bytes announced with expect_tx (0: the box)
}

// tmaKernel copies one box of the map to shared memory at offset 1024 of
// the dynamic window (the barrier sits at 0), then copies the stage's raw
// bytes to out. 64 threads.
func tmaKernel(c tmaCase, boxBytes int) *ptx.Kernel {
	k := ptx.NewKernel("tma")
	k.MaxThreads(64)
	xm := k.TensorMapAddr(k.TensorMapParam("x_map"))
	out := k.LoadParam(k.Param("out"))
	c0 := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(k.Param("c0")))
	c1 := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(k.Param("c1")))
	dyn := k.SharedAddr(k.ExternShared("smem", 1024))
	bar := ptx.Addr{Base: dyn}
	tile := k.Op("add", ptx.U32, dyn, ptx.Imm(1024+c.dstOff))
	tid := k.Special(ptx.TidX)
	first := k.Setp("eq", ptx.U32, tid, ptx.Imm(0))
	k.If(first, func() {
		k.MbarrierInit(bar, ptx.Imm(1))
		k.FenceMbarrierInit()
	})
	k.BarSync()
	expect := boxBytes
	if c.expect != 0 {
		expect = c.expect
	}
	k.If(first, func() {
		k.MbarrierArriveExpectTx(bar, ptx.Imm(expect))
		k.TensorLoad2D(ptx.Addr{Base: tile}, xm, c0, c1, bar)
	})
	start := k.Shift("shl", ptx.B32, tid, ptx.Imm(2))
	copyOut := func() {
		k.For(start, ptx.Imm(boxBytes), ptx.Imm(256), func(i ptx.Reg) {
			v := k.Ld("shared", ptx.U32, ptx.Addr{Base: k.Op("add", ptx.U32, tile, i)})
			k.St("global", ptx.U32, ptx.Addr{Base: k.Op("add", ptx.U64, out, k.Cvt("", ptx.U64, ptx.U32, i))}, v)
		})
	}
	if c.readEarly {
		copyOut()
	}
	k.MbarrierWait(bar, ptx.Imm(0))
	copyOut()
	return k
}

func putMap(t *testing.T, d *ptxsim.Device, m tensormap.Map2D) ptxsim.Ptr {
	t.Helper()
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	p := d.Alloc(len(enc))
	if err := d.Write(p, enc[:]); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTensorCopy(t *testing.T) {
	const rows, cols, stride = 20, 100, 224
	d := ptxsim.NewDevice()
	g := make([]uint16, rows*stride/2)
	rng := rand.New(rand.NewSource(1))
	for i := range g {
		g[i] = uint16(rng.Intn(65535) + 1)
	}
	gp := d.Alloc(2 * len(g))
	if err := d.WriteUint16s(gp, g); err != nil {
		t.Fatal(err)
	}
	m := tensormap.Map2D{Base: uint64(gp), Elem: tensormap.Uint16, Cols: cols, Rows: rows, RowStride: stride,
		BoxCols: 64, BoxRows: 8, Swizzle: tensormap.Swizzle128B}
	mp := putMap(t, d, m)
	box := m.BoxBytes()
	k := loadKernel(t, tmaKernel(tmaCase{}, box))
	for _, c := range [][2]int{{0, 0}, {48, 15}, {-8, -3}, {36, 4}} {
		out := d.Alloc(box)
		if err := d.Launch(k, [3]int{1, 1, 1}, [3]int{64, 1, 1}, 1024+box, uint64(mp), uint64(out), uint64(uint32(int32(c[0]))), uint64(uint32(int32(c[1])))); err != nil {
			t.Fatal(err)
		}
		got, _ := d.Read(out, box)
		// Element (r, c) of the box lands in row r (128 bytes), its
		// 16-byte chunk exchanged with chunk c/8 XOR r%8.
		for r := 0; r < 8; r++ {
			for cc := 0; cc < 64; cc++ {
				gr, gc := c[1]+r, c[0]+cc
				want := uint16(0)
				if gr >= 0 && gr < rows && gc >= 0 && gc < cols {
					want = g[gr*stride/2+gc]
				}
				off := r*128 + ((cc/8)^(r%8))*16 + cc%8*2
				if v := binary.LittleEndian.Uint16(got[off:]); v != want {
					t.Fatalf("coords %v: box (%d, %d) at byte %d = %#x, want %#x", c, r, cc, off, v, want)
				}
			}
		}
	}
	for name, c := range map[string]struct {
		tc   tmaCase
		want string
	}{
		"read before wait":    {tmaCase{readEarly: true}, "uninitialised shared memory"},
		"misaligned swizzle":  {tmaCase{dstOff: 512}, "not aligned to 1024"},
		"too few bytes":       {tmaCase{expect: box / 2}, "more completed than expected"},
		"bytes never arrived": {tmaCase{expect: 2 * box}, "can never complete"},
	} {
		k := loadKernel(t, tmaKernel(c.tc, box))
		out := d.Alloc(box)
		err := d.Launch(k, [3]int{1, 1, 1}, [3]int{64, 1, 1}, 2048+box, uint64(mp), uint64(out), 0, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
}

// mbarKernel: thread 0 initialises a barrier for count arrivals, the first
// arrivals threads arrive (thread 0 with expect_tx of tx bytes when tx > 0),
// then thread 0 records try_wait of both parities.
func mbarKernel(count, arrivals, tx int) *ptx.Kernel {
	k := ptx.NewKernel("mbar")
	k.MaxThreads(32)
	out := k.LoadParam(k.Param("out"))
	dyn := k.SharedAddr(k.ExternShared("smem", 16))
	bar := ptx.Addr{Base: dyn}
	tid := k.Special(ptx.TidX)
	first := k.Setp("eq", ptx.U32, tid, ptx.Imm(0))
	k.If(first, func() { k.MbarrierInit(bar, ptx.Imm(count)) })
	k.BarSync()
	k.If(k.Setp("lt", ptx.U32, tid, ptx.Imm(arrivals)), func() {
		if tx > 0 {
			k.IfElse(first, func() { k.MbarrierArriveExpectTx(bar, ptx.Imm(tx)) }, func() { k.MbarrierArrive(bar) })
		} else {
			k.MbarrierArrive(bar)
		}
	})
	k.BarSync()
	k.If(first, func() {
		for i, par := range []int{0, 1} {
			p := k.MbarrierTryWait(bar, ptx.Imm(par))
			k.St("global", ptx.U32, ptx.Addr{Base: out, Offset: int64(4 * i)}, k.Selp(ptx.U32, ptx.Imm(1), ptx.Imm(0), p))
		}
	})
	return k
}

func TestMbarrier(t *testing.T) {
	d := ptxsim.NewDevice()
	for _, c := range []struct {
		count, arrivals, tx int
		want                [2]uint32
		err                 string
	}{
		{count: 3, arrivals: 3, want: [2]uint32{1, 0}}, // phase 0 complete, phase 1 open
		{count: 3, arrivals: 2, want: [2]uint32{0, 1}}, // phase 0 open: parity 1 (the phase before) reads complete
		{count: 2, arrivals: 4, want: [2]uint32{0, 1}}, // two phases complete: parity 0 names the open phase 2
		{count: 1, arrivals: 2, tx: 64, err: "arrival beyond the 1 expected"},
		{count: 1, arrivals: 1, tx: 64, want: [2]uint32{0, 1}}, // bytes outstanding
	} {
		k := loadKernel(t, mbarKernel(c.count, c.arrivals, c.tx))
		out := d.Alloc(8)
		err := d.Launch(k, [3]int{1, 1, 1}, [3]int{32, 1, 1}, 16, uint64(out))
		if c.err != "" {
			wantErr(t, err, c.err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got, _ := d.ReadUint32s(out, 2)
		if got[0] != c.want[0] || got[1] != c.want[1] {
			t.Errorf("count %d, %d arrivals, tx %d: try_wait(0), try_wait(1) = %v, want %v", c.count, c.arrivals, c.tx, got, c.want)
		}
	}
	// Arriving on a barrier nobody initialised.
	k := ptx.NewKernel("uninit")
	k.MaxThreads(32)
	k.MbarrierArrive(ptx.Addr{Base: k.SharedAddr(k.ExternShared("smem", 16))})
	wantErr(t, d.Launch(loadKernel(t, k), [3]int{1, 1, 1}, [3]int{32, 1, 1}, 16), "never initialised")
}

// wgCase configures the wgmma kernel.
type wgCase struct {
	interleave bool // operands in 8×16-byte core matrices, no swizzle
	noFence    bool // skip fence.proxy.async after storing the operands
	clobber    bool // overwrite A between issue and wait_group
	staleProbe bool // store the accumulators before wait_group too
}

// wgmma tile: A is 64×64 and B is wgN×64 bf16, K-major, each row 128 bytes
// swizzled by 128 bytes; D = A·Bᵀ over K = 64 in four k16 steps, the
// descriptors' start advanced 32 bytes a step.
const (
	wgN      = 32
	wgABytes = 64 * 128
	wgBBytes = wgN * 128
)

func wgKernel(c wgCase) *ptx.Kernel {
	k := ptx.NewKernel("wg")
	k.MaxThreads(128)
	src := k.LoadParam(k.Param("src")) // A then B, already in their shared layout
	out := k.LoadParam(k.Param("out"))
	dyn := k.SharedAddr(k.ExternShared("smem", 1024))
	tid := k.Special(ptx.TidX)
	start := k.Shift("shl", ptx.B32, tid, ptx.Imm(2))
	k.For(start, ptx.Imm(wgABytes+wgBBytes), ptx.Imm(512), func(i ptx.Reg) {
		v := k.Ld("global", ptx.U32, ptx.Addr{Base: k.Op("add", ptx.U64, src, k.Cvt("", ptx.U64, ptx.U32, i))})
		k.St("shared", ptx.U32, ptx.Addr{Base: k.Op("add", ptx.U32, dyn, i)}, v)
	})
	if !c.noFence {
		k.FenceProxyAsync()
	}
	k.BarSync()
	acc := make(ptx.Vec, wgN/2)
	for i := range acc {
		acc[i] = k.Mov(ptx.F32, ptx.F32Imm(7))
	}
	// Swizzled: a k16 step is 32 bytes into the 128-byte row. Interleaved:
	// core matrices (8 rows × 16 bytes) 128 bytes apart along K (LBO),
	// eight-row groups 1024 apart (SBO), a k16 step two core matrices.
	constPart, step := ptx.MatrixDesc(16, 1024, ptx.DescSwizzle128), 32
	if c.interleave {
		constPart, step = ptx.MatrixDesc(128, 1024, ptx.DescNoSwizzle), 256
	}
	desc := func(base ptx.Reg, kk int) ptx.Reg {
		a := k.Cvt("", ptx.U64, ptx.U32, k.Shift("shr", ptx.U32, k.Op("add", ptx.U32, base, ptx.Imm(step*kk)), ptx.Imm(4)))
		return k.Op("or", ptx.B64, a, ptx.Imm(int64(constPart)))
	}
	bBase := k.Op("add", ptx.U32, dyn, ptx.Imm(wgABytes))
	k.WgmmaFence()
	for kk := 0; kk < 4; kk++ {
		var scale ptx.Operand = ptx.Imm(1)
		if kk == 0 {
			scale = ptx.Imm(0)
		}
		k.Wgmma(wgN, acc, desc(dyn, kk), desc(bBase, kk), scale)
	}
	k.WgmmaCommit()
	store := func(off int) {
		for i, r := range acc {
			idx := k.Op("add", ptx.U32, k.Op("mul.lo", ptx.U32, tid, ptx.Imm(wgN/2)), ptx.Imm(i))
			a := k.Op("add", ptx.U64, out, k.MulWide(ptx.U32, idx, ptx.Imm(4)))
			k.St("global", ptx.F32, ptx.Addr{Base: a, Offset: int64(off)}, r)
		}
	}
	if c.staleProbe {
		store(128 * wgN / 2 * 4)
	}
	if c.clobber {
		k.BarSync()
		k.St("shared", ptx.U32, ptx.Addr{Base: k.Op("add", ptx.U32, dyn, start)}, ptx.Imm(0))
	}
	k.WgmmaWait(0)
	store(0)
	return k
}

// swizzled128 is the byte offset of element (row, k) of a K-major bf16
// tile with 128-byte rows, eight-row groups 1024 bytes apart, and each
// 16-byte chunk exchanged with chunk (k/8) XOR row%8.
func swizzled128(row, k int) int {
	return row/8*1024 + row%8*128 + ((k/8)^(row%8))*16 + k%8*2
}

func bf16Bits(v float32) uint16 { return uint16(math.Float32bits(v) >> 16) }
func bf16Val(h uint16) float64  { return float64(math.Float32frombits(uint32(h) << 16)) }

// interleaved is the byte offset of element (row, k) of a K-major bf16
// tile without swizzle: 8×16-byte core matrices, row-major inside, 128
// bytes apart along K, eight-row groups 1024 bytes apart.
func interleaved(row, k int) int { return row/8*1024 + k/8*128 + row%8*16 + k%8*2 }

func TestWgmma(t *testing.T) {
	for _, inter := range []bool{false, true} {
		t.Run(map[bool]string{false: "swizzle128", true: "interleave"}[inter], func(t *testing.T) { testWgmma(t, inter) })
	}
}

func testWgmma(t *testing.T, inter bool) {
	rng := rand.New(rand.NewSource(2))
	A := make([][64]uint16, 64)
	B := make([][64]uint16, wgN)
	img := make([]byte, wgABytes+wgBBytes)
	place := swizzled128
	if inter {
		place = interleaved
	}
	for r := range A {
		for k := range A[r] {
			A[r][k] = bf16Bits(float32(rng.NormFloat64()))
			binary.LittleEndian.PutUint16(img[place(r, k):], A[r][k])
		}
	}
	for n := range B {
		for k := range B[n] {
			B[n][k] = bf16Bits(float32(rng.NormFloat64()))
			binary.LittleEndian.PutUint16(img[wgABytes+place(n, k):], B[n][k])
		}
	}
	ref := func(row, col int, swizzle bool) float64 {
		s := 0.0
		for k := 0; k < 64; k++ {
			a, b := A[row][k], B[col][k]
			if !swizzle { // what a simulator ignoring the swizzle would read
				a = A[row][k^(8*(row%8))]
				b = B[col][k^(8*(col%8))]
			}
			s += bf16Val(a) * bf16Val(b)
		}
		return s
	}
	d := ptxsim.NewDevice()
	src := d.Alloc(len(img))
	if err := d.Write(src, img); err != nil {
		t.Fatal(err)
	}
	out := d.Alloc(2 * 128 * wgN / 2 * 4)
	k := loadKernel(t, wgKernel(wgCase{staleProbe: true, interleave: inter}))
	if err := d.Launch(k, [3]int{1, 1, 1}, [3]int{128, 1, 1}, wgABytes+wgBBytes, uint64(src), uint64(out)); err != nil {
		t.Fatal(err)
	}
	got, _ := d.ReadFloat32s(out, 2*128*wgN/2)
	var num, den, numNoSwz float64
	for l := 0; l < 128; l++ {
		w, g, q := l/32, l%32/4, l%4
		for i := 0; i < wgN/2; i++ {
			// m16n8 D layout per warp, 8-column blocks in register order.
			row := 16*w + g
			if i%4 >= 2 {
				row += 8
			}
			col := 8*(i/4) + 2*q + i%2
			want := ref(row, col, true)
			e := float64(got[l*wgN/2+i]) - want
			num += e * e
			den += want * want
			e2 := float64(got[l*wgN/2+i]) - ref(row, col, false)
			numNoSwz += e2 * e2
			if stale := got[128*wgN/2+l*wgN/2+i]; stale != 7 {
				t.Fatalf("accumulator read before wait_group = %v, want the stale 7", stale)
			}
		}
	}
	if rel := math.Sqrt(num / den); rel > 1e-6 {
		t.Errorf("normwise relative error %.3g", rel)
	}
	if rel := math.Sqrt(numNoSwz / den); !inter && rel < 0.1 {
		t.Errorf("the result also matches an unswizzled reading (error %.3g): the test cannot tell", rel)
	}
	for name, c := range map[string]struct {
		wc   wgCase
		want string
	}{
		"no proxy fence":      {wgCase{noFence: true}, "no fence.proxy.async"},
		"operand overwritten": {wgCase{clobber: true}, "changed before wait_group"},
	} {
		c.wc.interleave = inter
		k := loadKernel(t, wgKernel(c.wc))
		err := d.Launch(k, [3]int{1, 1, 1}, [3]int{128, 1, 1}, wgABytes+wgBBytes, uint64(src), uint64(out))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
}
