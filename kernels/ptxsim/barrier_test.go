package ptxsim

import (
	"strings"
	"testing"
)

// reduction sums in[0..255] in shared memory; firstBar is the barrier after
// the initial stores (the planted bug removes it).
func reduction(firstBar string) string {
	return header + `
.visible .entry sum(.param .u64 in, .param .u64 out)
{
	.shared .align 4 .f32 buf[256];
	.reg .pred %p, %q;
	.reg .b32 %r<12>;
	.reg .f32 %f<4>;
	.reg .b64 %rd<6>;
	ld.param.u64 %rd1, [in];
	ld.param.u64 %rd2, [out];
	mov.u32 %r1, %tid.x;
	mul.wide.u32 %rd3, %r1, 4;
	add.u64 %rd4, %rd1, %rd3;
	ld.global.f32 %f1, [%rd4];
	mov.u32 %r2, buf;
	mad.lo.u32 %r3, %r1, 4, %r2;
	st.shared.f32 [%r3], %f1;
	` + firstBar + `
	mov.u32 %r4, 128;
LOOP:
	setp.lt.u32 %p, %r1, %r4;
	@!%p bra SKIP;
	mad.lo.u32 %r5, %r4, 4, %r3;
	ld.shared.f32 %f2, [%r5];
	ld.shared.f32 %f3, [%r3];
	add.f32 %f3, %f3, %f2;
	st.shared.f32 [%r3], %f3;
SKIP:
	bar.sync 0;
	shr.u32 %r4, %r4, 1;
	setp.ne.u32 %q, %r4, 0;
	@%q bra LOOP;
	setp.eq.u32 %p, %r1, 0;
	@!%p ret;
	ld.shared.f32 %f1, [buf];
	st.global.f32 [%rd2], %f1;
	ret;
}
`
}

func sumInput(d *Device) (Ptr, Ptr) {
	in, out := d.Alloc(1024), d.Alloc(4)
	x := make([]float32, 256)
	for i := range x {
		x[i] = float32(i)
	}
	d.WriteFloat32s(in, x)
	return in, out
}

func TestSharedReduction(t *testing.T) {
	d := NewDevice()
	in, out := sumInput(d)
	if err := launch1(t, d, reduction("bar.sync 0;"), "sum", 1, 256, uint64(in), uint64(out)); err != nil {
		t.Fatal(err)
	}
	got, _ := d.ReadFloat32s(out, 1)
	if got[0] != 255*256/2 {
		t.Fatalf("sum = %v", got[0])
	}
}

func TestMissingBarrierIsCaught(t *testing.T) {
	d := NewDevice()
	in, out := sumInput(d)
	err := launch1(t, d, reduction(""), "sum", 1, 256, uint64(in), uint64(out))
	if err == nil || !strings.Contains(err.Error(), "uninitialised shared") {
		t.Fatalf("want an uninitialised-shared error, got %v", err)
	}
	// With every byte initialised first, the same bug is a race.
	d.NoRaceCheck = false
	err = launch1(t, d, strings.Replace(reduction(""), "st.shared.f32 [%r3], %f1;",
		"st.shared.f32 [%r3], %f1;\n\tbar.sync 0;\n\tst.shared.f32 [%r3], %f1;", 1), "sum", 1, 256, uint64(in), uint64(out))
	if err == nil || !strings.Contains(err.Error(), "race") {
		t.Fatalf("want a race error, got %v", err)
	}
}

func TestDivergentBarrier(t *testing.T) {
	src := header + `
.visible .entry k()
{
	.reg .pred %p;
	.reg .b32 %r1;
	mov.u32 %r1, %tid.x;
	setp.lt.u32 %p, %r1, 40;
	@%p bra SKIP;
	bar.sync 0;
SKIP:
	bar.sync 0;
	ret;
}
`
	err := launch1(t, NewDevice(), src, "k", 1, 64)
	if err == nil || !strings.Contains(err.Error(), "barrier divergence") {
		t.Fatalf("want barrier divergence, got %v", err)
	}
	e, ok := err.(*Error)
	if !ok || e.Kernel != "k" || e.Line == 0 || !strings.Contains(e.Text, "bar.sync") {
		t.Fatalf("error lacks context: %#v", err)
	}
}

func TestBarrierDeadlock(t *testing.T) {
	// Lane 0 waits at the barrier while its warp waits for it in a shuffle.
	src := header + `
.visible .entry k()
{
	.reg .pred %p;
	.reg .b32 %r<3>;
	mov.u32 %r1, %tid.x;
	setp.eq.u32 %p, %r1, 0;
	@%p bar.sync 0;
	shfl.sync.bfly.b32 %r2, %r1, 1, 0x1f, 0xffffffff;
	bar.sync 0;
	ret;
}
`
	err := launch1(t, NewDevice(), src, "k", 1, 32)
	if err == nil || !strings.Contains(err.Error(), "deadlock") {
		t.Fatalf("want deadlock, got %v", err)
	}
}

func TestEarlyExitBeforeBarrier(t *testing.T) {
	// Threads that exit do not hold a barrier up (the guarded-tail pattern).
	src := header + `
.visible .entry k(.param .u64 out)
{
	.shared .align 4 .u32 s[64];
	.reg .pred %p;
	.reg .b32 %r<6>;
	.reg .b64 %rd<4>;
	ld.param.u64 %rd1, [out];
	mov.u32 %r1, %tid.x;
	setp.ge.u32 %p, %r1, 40;
	@%p ret;
	mov.u32 %r2, s;
	mad.lo.u32 %r3, %r1, 4, %r2;
	st.shared.u32 [%r3], %r1;
	bar.sync 0;
	sub.u32 %r4, 39, %r1;
	mad.lo.u32 %r4, %r4, 4, %r2;
	ld.shared.u32 %r5, [%r4];
	mul.wide.u32 %rd2, %r1, 4;
	add.u64 %rd3, %rd1, %rd2;
	st.global.u32 [%rd3], %r5;
	ret;
}
`
	d := NewDevice()
	out := d.Alloc(160)
	if err := launch1(t, d, src, "k", 1, 64, uint64(out)); err != nil {
		t.Fatal(err)
	}
	got, _ := d.ReadUint32s(out, 40)
	for i, v := range got {
		if v != uint32(39-i) {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
}

func TestSharedRace(t *testing.T) {
	src := header + `
.visible .entry k()
{
	.shared .align 4 .u32 s[1];
	.reg .b32 %r1;
	mov.u32 %r1, %tid.x;
	st.shared.u32 [s], %r1;
	ret;
}
`
	d := NewDevice()
	err := launch1(t, d, src, "k", 1, 2)
	if err == nil || !strings.Contains(err.Error(), "race") {
		t.Fatalf("want a race, got %v", err)
	}
	d.NoRaceCheck = true
	if err := launch1(t, d, src, "k", 1, 2); err != nil {
		t.Fatal(err)
	}
}

func TestMultiDimensionalLaunch(t *testing.T) {
	src := header + `
.visible .entry k(.param .u64 out)
{
	.reg .b32 %r<20>;
	.reg .b64 %rd<4>;
	ld.param.u64 %rd1, [out];
	mov.u32 %r1, %tid.x;
	mov.u32 %r2, %tid.y;
	mov.u32 %r3, %tid.z;
	mov.u32 %r4, %ctaid.x;
	mov.u32 %r5, %ctaid.y;
	mov.u32 %r6, %ntid.x;
	mov.u32 %r7, %ntid.y;
	mov.u32 %r8, %nctaid.x;
	// linear thread in block, linear block
	mad.lo.u32 %r9, %r3, %r7, %r2;
	mad.lo.u32 %r9, %r9, %r6, %r1;
	mad.lo.u32 %r10, %r5, %r8, %r4;
	mul.lo.u32 %r11, %r6, %r7;
	mov.u32 %r12, %ntid.z;
	mul.lo.u32 %r11, %r11, %r12;
	mad.lo.u32 %r13, %r10, %r11, %r9;
	mov.u32 %r14, %warpid;
	shl.b32 %r14, %r14, 16;
	or.b32 %r14, %r14, %r13;
	mul.wide.u32 %rd2, %r13, 4;
	add.u64 %rd3, %rd1, %rd2;
	st.global.u32 [%rd3], %r14;
	ret;
}
`
	m, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := m.Kernel("k")
	d := NewDevice()
	out := d.Alloc(4 * 2 * 3 * 60)
	if err := d.Launch(k, [3]int{2, 3, 1}, [3]int{5, 4, 3}, 0, uint64(out)); err != nil {
		t.Fatal(err)
	}
	got, _ := d.ReadUint32s(out, 360)
	for i, v := range got {
		if v&0xffff != uint32(i) || v>>16 != uint32(i%60/32) {
			t.Fatalf("out[%d] = %#x", i, v)
		}
	}
}
