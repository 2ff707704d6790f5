package ptxsim

import (
	"strings"
	"testing"
)

// probeKernel runs body once per thread after filling 8 KiB of shared
// memory with 16-byte stores. Registers the body can use: %rd5 = p +
// tid·stride (global), %r4 = shared base + tid·stride, %rd7 = the generic
// address of %r4, %f2..%f5 and %r10..%r13 as destinations.
func probeKernel(body string) string {
	return header + `
.visible .entry k(.param .u64 p, .param .u64 stride)
{
	.reg .pred %p;
	.reg .b32 %r<16>;
	.reg .f32 %f<8>;
	.reg .b64 %rd<8>;
	.shared .align 16 .b8 sm[8192];
	ld.param.u64 %rd1, [p];
	ld.param.u64 %rd2, [stride];
	mov.u32 %r1, %tid.x;
	cvt.u64.u32 %rd3, %r1;
	mul.lo.u64 %rd4, %rd3, %rd2;
	add.u64 %rd5, %rd1, %rd4;
	cvt.u32.u64 %r2, %rd4;
	mov.u32 %r3, sm;
	add.u32 %r4, %r3, %r2;
	cvt.u64.u32 %rd6, %r4;
	cvta.shared.u64 %rd7, %rd6;
	mov.f32 %f1, 0f3F800000;
	mov.u32 %r5, 0;
FILL:
	mov.u32 %r7, %ntid.x;
	mad.lo.u32 %r6, %r5, %r7, %r1;
	shl.b32 %r6, %r6, 4;
	add.u32 %r6, %r3, %r6;
	setp.lt.u32 %p, %r6, 8192;
	@%p st.shared.v4.f32 [%r6], {%f1, %f1, %f1, %f1};
	add.u32 %r5, %r5, 1;
	setp.lt.u32 %p, %r5, 16;
	@%p bra FILL;
	bar.sync 0;
` + body + `
	ret;
}
`
}

// profileOf runs src on a fresh profiling device with 16 KiB of
// initialised global memory and returns the kernel's profile.
func profileOf(t *testing.T, src string, threads int, stride uint64) *KernelProfile {
	t.Helper()
	d := NewDevice()
	p := d.Alloc(16 << 10)
	if err := d.Write(p, make([]byte, 16<<10)); err != nil {
		t.Fatal(err)
	}
	d.Profile = NewProfile()
	if err := launch1(t, d, src, "k", 1, threads, uint64(p), stride); err != nil {
		t.Fatal(err)
	}
	kp := d.Profile.Kernel("k")
	if kp == nil {
		t.Fatal("no profile for kernel k")
	}
	return kp
}

// stat returns the counters of the one instruction whose text contains s.
func stat(t *testing.T, kp *KernelProfile, s string) InstrStats {
	t.Helper()
	var found []InstrStats
	for _, in := range kp.Instrs {
		if strings.Contains(in.Text, s) {
			found = append(found, in)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d instructions contain %q", len(found), s)
	}
	return found[0]
}

// forum computes %r8 = sm + 32·(tid/16) and %r9 = sm + 32·(tid%16).
const forum = `shr.u32 %r8, %r1, 4;
	shl.b32 %r8, %r8, 5;
	add.u32 %r8, %r3, %r8;
	and.b32 %r9, %r1, 15;
	shl.b32 %r9, %r9, 5;
	add.u32 %r9, %r3, %r9;
	`

func TestProfileMemoryRequests(t *testing.T) {
	cases := []struct {
		name, body, find string
		threads          int
		stride           uint64
		class            MemClass
		// per kernel: requests, bytes, sectors, lines, wavefronts, ideal, L2 sectors
		req, bytes, sectors, lines, wf, ideal, l2 int64
	}{
		{"coalesced f32 load", "ld.global.f32 %f2, [%rd5];", "ld.global.f32", 32, 4,
			GlobalLoad, 1, 128, 4, 1, 1, 1, 4},
		{"lane-strided f32 load (128 B)", "ld.global.f32 %f2, [%rd5];", "ld.global.f32", 32, 128,
			GlobalLoad, 1, 128, 32, 32, 32, 1, 32},
		{"two warps, lane-strided", "ld.global.f32 %f2, [%rd5];", "ld.global.f32", 64, 128,
			GlobalLoad, 2, 256, 64, 64, 64, 2, 64},
		{"coalesced 128-bit load", "ld.global.nc.v4.f32 {%f2, %f3, %f4, %f5}, [%rd5];", "ld.global.nc.v4", 32, 16,
			GlobalLoad, 1, 512, 16, 4, 4, 4, 16},
		{"lane-strided 128-bit load", "ld.global.nc.v4.f32 {%f2, %f3, %f4, %f5}, [%rd5];", "ld.global.nc.v4", 32, 128,
			GlobalLoad, 1, 512, 32, 32, 32, 4, 32},
		{"coalesced store", "st.global.f32 [%rd5], %f1;", "st.global.f32", 32, 4,
			GlobalStore, 1, 128, 4, 1, 1, 1, 4},
		{"shared, conflict-free", "ld.shared.f32 %f2, [%r4];", "ld.shared.f32", 32, 4,
			SharedLoad, 1, 128, 0, 0, 1, 1, 0},
		{"shared, 8-way conflict", "ld.shared.f32 %f2, [%r4];", "ld.shared.f32", 32, 32,
			SharedLoad, 1, 128, 0, 0, 8, 1, 0},
		{"shared, broadcast", "ld.shared.f32 %f2, [%r4];", "ld.shared.f32", 32, 0,
			SharedLoad, 1, 128, 0, 0, 1, 1, 0},
		{"shared 64-bit, conflict-free", "ld.shared.v2.f32 {%f2, %f3}, [%r4];", "ld.shared.v2", 32, 8,
			SharedLoad, 1, 256, 0, 0, 2, 2, 0},
		{"shared 64-bit, 2-way in each half", "ld.shared.v2.f32 {%f2, %f3}, [%r4];", "ld.shared.v2", 32, 16,
			SharedLoad, 1, 256, 0, 0, 4, 2, 0},
		{"shared 128-bit, conflict-free", "ld.shared.v4.f32 {%f2, %f3, %f4, %f5}, [%r4];", "ld.shared.v4", 32, 16,
			SharedLoad, 1, 512, 0, 0, 4, 4, 0},
		{"shared 128-bit, 16-way in each half", "ld.shared.v4.f32 {%f2, %f3, %f4, %f5}, [%r4];", "ld.shared.v4", 32, 128,
			SharedLoad, 1, 512, 0, 0, 32, 4, 0},
		// The two patterns of the NVIDIA forum thread cited in Profile,
		// as Nsight Compute measured them: %r8 = 32·(tid/16), %r9 =
		// 32·(tid%16).
		{"128-bit broadcast in each half (forum pattern 2)", forum + "ld.shared.v4.f32 {%f2, %f3, %f4, %f5}, [%r8];", "[%r8]", 32, 0,
			SharedLoad, 1, 512, 0, 0, 2, 2, 0},
		{"128-bit, lanes t and t+16 share a word (forum pattern 1)", forum + "ld.shared.v4.f32 {%f2, %f3, %f4, %f5}, [%r9];", "[%r9]", 32, 0,
			SharedLoad, 1, 512, 0, 0, 8, 4, 0},
		{"generic load of shared memory", "ld.f32 %f2, [%rd7];", "ld.f32", 32, 32,
			SharedLoad, 1, 128, 0, 0, 8, 1, 0},
		{"ldmatrix x4, conflict-free", "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r10, %r11, %r12, %r13}, [%r4];", "ldmatrix", 32, 16,
			Ldmatrix, 1, 512, 0, 0, 4, 4, 0},
		{"ldmatrix x4, rows in one bank group", "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r10, %r11, %r12, %r13}, [%r4];", "ldmatrix", 32, 128,
			Ldmatrix, 1, 512, 0, 0, 32, 4, 0},
		{"ldmatrix x2, padded rows (144 B)", "ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%r10, %r11}, [%r4];", "ldmatrix", 32, 144,
			Ldmatrix, 1, 256, 0, 0, 2, 2, 0},
		{"cp.async 16 B", "cp.async.cg.shared.global [%r4], [%rd5], 16;\n\tcp.async.wait_all;", "cp.async.cg", 32, 16,
			CpAsync, 1, 512, 16, 4, 4, 4, 16},
		{"shuffle", "shfl.sync.bfly.b32 %r10, %r1, 1, 31, -1;", "shfl.sync", 64, 4,
			Shuffle, 2, 0, 0, 0, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kp := profileOf(t, probeKernel(c.body), c.threads, c.stride)
			s := stat(t, kp, c.find)
			got := [7]int64{s.Requests, s.Bytes, s.Sectors, s.Lines, s.Wavefronts, s.IdealWavefronts, s.L2Sectors}
			want := [7]int64{c.req, c.bytes, c.sectors, c.lines, c.wf, c.ideal, c.l2}
			if s.Class != c.class || got != want {
				t.Errorf("%v: got class %v [requests bytes sectors lines wavefronts ideal L2] = %v, want %v %v", s.Text, s.Class, got, c.class, want)
			}
			if s.WarpExecs != int64(c.threads/32) || s.ThreadExecs != int64(c.threads) {
				t.Errorf("issued %d warp / %d thread times, want %d / %d", s.WarpExecs, s.ThreadExecs, c.threads/32, c.threads)
			}
		})
	}
}

func TestProfileBankConflictsAndLoops(t *testing.T) {
	kp := profileOf(t, probeKernel("ld.shared.f32 %f2, [%r4];"), 32, 32)
	if s := stat(t, kp, "ld.shared.f32"); s.BankConflicts() != 7 || s.WavefrontsPerRequest() != 8 {
		t.Errorf("8-way conflict: %d conflicts, %g wavefronts per request", s.BankConflicts(), s.WavefrontsPerRequest())
	}
	// The fill loop: 16 trips, 4 wavefronts each (16 B per lane,
	// consecutive), the last trip's stores predicated off for none.
	fill := stat(t, kp, "st.shared.v4")
	if fill.WarpExecs != 16 || fill.Requests != 16 || fill.Wavefronts != 64 || fill.BankConflicts() != 0 || fill.Bytes != 8192 {
		t.Errorf("fill loop: %+v", fill)
	}
	if b := stat(t, kp, "bra FILL"); b.WarpExecs != 16 {
		t.Errorf("loop branch issued %d times, want 16", b.WarpExecs)
	}
	if ls := kp.Loops(); len(ls) != 1 || kp.Trips(ls[0]) != 16 || !strings.Contains(kp.Instrs[ls[0].End].Text, "bra FILL") {
		t.Errorf("loops %+v", ls)
	}
	sh := kp.Sum(SharedStore)
	if sh.Requests != 16 || sh.Wavefronts != 64 {
		t.Errorf("shared-store totals %+v", sh)
	}
	if kp.Launches != 1 || kp.Warps != 1 || len(kp.CTAs) != 1 {
		t.Errorf("launches %d warps %d CTAs %d", kp.Launches, kp.Warps, len(kp.CTAs))
	}
	if h := kp.Hottest(1); len(h) != 1 || !strings.Contains(h[0].Text, "st.shared.v4") {
		t.Errorf("hottest: %+v", h)
	}
}

func TestProfileL1Reuse(t *testing.T) {
	twice := "ld.global.f32 %f2, [%rd5];\n\tld.global.f32 %f3, [%rd5+4];\n\tld.global.cg.f32 %f4, [%rd5+8];"
	kp := profileOf(t, probeKernel(twice), 32, 16)
	first, again, bypass := stat(t, kp, "%f2, [%rd5]"), stat(t, kp, "[%rd5+4]"), stat(t, kp, ".cg")
	if first.Sectors != 16 || first.L2Sectors != 16 {
		t.Errorf("first read: %+v", first)
	}
	if again.Sectors != 16 || again.L2Sectors != 0 {
		t.Errorf("re-read of the block's own sectors went to L2: %+v", again)
	}
	if bypass.L2Sectors != 16 {
		t.Errorf(".cg load must bypass L1: %+v", bypass)
	}
	if c := kp.CTAs[0]; c.CachedSectors != 16 || c.RequestedCachedSectors != 32 || kp.UniqueCachedSectors != 16 {
		t.Errorf("CTA stats %+v, launch unique %d", c, kp.UniqueCachedSectors)
	}
	// 3 × 128 B of global loads, 16 fill stores of 512 B, two u64 params
	// per thread.
	if b := kp.Bytes(); b.GlobalRead != 384 || b.GlobalWritten != 0 || b.SharedWritten != 8192 || b.SharedRead != 0 || b.Param != 2*8*32 {
		t.Errorf("bytes per space %+v", b)
	}
}

func TestProfileOffByDefault(t *testing.T) {
	d := NewDevice()
	p := d.Alloc(16 << 10)
	_ = d.Write(p, make([]byte, 16<<10))
	if err := launch1(t, d, probeKernel("ld.global.f32 %f2, [%rd5];"), "k", 1, 32, uint64(p), 4); err != nil {
		t.Fatal(err)
	}
	if d.Profile != nil {
		t.Fatal("a profile appeared without being asked for")
	}
}

func TestLaunchBlocksOnGeneratedMemory(t *testing.T) {
	// A 4 GiB buffer of which two blocks touch 2·128 bytes: only the
	// generated pages they touch exist.
	src := header + `
.visible .entry k(.param .u64 p, .param .u64 out)
{
	.reg .b32 %r<4>;
	.reg .b64 %rd<8>;
	.reg .f32 %f<3>;
	ld.param.u64 %rd1, [p];
	ld.param.u64 %rd2, [out];
	mov.u32 %r1, %ctaid.x;
	mov.u32 %r2, %tid.x;
	mad.lo.u32 %r3, %r1, 32, %r2;
	mul.wide.u32 %rd3, %r3, 4;
	add.u64 %rd4, %rd1, %rd3;
	ld.global.f32 %f1, [%rd4];
	add.f32 %f2, %f1, %f1;
	add.u64 %rd5, %rd2, %rd3;
	st.global.f32 [%rd5], %f2;
	ret;
}
`
	m, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := m.Kernel("k")
	d := NewDevice()
	const n = 1 << 30 // floats
	gen := func(off int64, p []byte) {
		for i := range p {
			if (off+int64(i))%4 == 3 {
				p[i] = 0x3f // 0x3f000000 + small mantissa bits: about 0.5
			}
		}
	}
	in := d.AllocGenerated(4*n, gen)
	out := d.AllocGenerated(4*n, func(int64, []byte) {})
	d.Profile = NewProfile()
	last := n/32 - 1
	if err := d.LaunchBlocks(k, [3]int{n / 32, 1, 1}, [3]int{32, 1, 1}, 0, [][3]int{{3, 0, 0}, {last, 0, 0}}, uint64(in), uint64(out)); err != nil {
		t.Fatal(err)
	}
	for _, blk := range []int{3, last} {
		v, err := d.ReadFloat32s(out+Ptr(4*32*blk), 32)
		if err != nil {
			t.Fatal(err)
		}
		if v[0] != 1 || v[31] != 1 {
			t.Fatalf("block %d wrote %v", blk, v)
		}
	}
	var pages int
	for _, b := range d.bufs {
		pages += len(b.pages)
	}
	if pages != 4 {
		t.Errorf("%d generated pages exist, want 4", pages)
	}
	kp := d.Profile.Kernel("k")
	if len(kp.CTAs) != 2 || kp.CTAs[1].CTA != [3]int{last, 0, 0} || kp.Warps != 2 {
		t.Errorf("profile of the sampled blocks: %+v", kp.CTAs)
	}
	if err := d.LaunchBlocks(k, [3]int{4, 1, 1}, [3]int{32, 1, 1}, 0, [][3]int{{4, 0, 0}}, uint64(in), uint64(out)); err == nil {
		t.Error("a block outside the grid ran")
	}
}

func TestProfileL1Capacity(t *testing.T) {
	twice := "ld.global.f32 %f2, [%rd5];\n\tld.global.f32 %f3, [%rd5+4];"
	for _, c := range []struct {
		l1        int64
		againToL2 int64
	}{{0, 0}, {1 << 10, 0}, {256, 16}} {
		d := NewDevice()
		p := d.Alloc(16 << 10)
		_ = d.Write(p, make([]byte, 16<<10))
		d.Profile = NewProfile()
		d.Profile.L1Bytes = c.l1
		if err := launch1(t, d, probeKernel(twice), "k", 1, 32, uint64(p), 16); err != nil {
			t.Fatal(err)
		}
		kp := d.Profile.Kernel("k")
		again := stat(t, kp, "[%rd5+4]")
		if again.L2Sectors != c.againToL2 || kp.CTAs[0].MissedSectors != 16+c.againToL2 || kp.CTAs[0].CachedSectors != 16 {
			t.Errorf("L1 of %d B: re-read sent %d sectors to L2, block missed %d", c.l1, again.L2Sectors, kp.CTAs[0].MissedSectors)
		}
	}
}
