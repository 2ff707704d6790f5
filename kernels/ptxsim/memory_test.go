package ptxsim

import (
	"errors"
	"strings"
	"testing"
)

// copyKernel copies n floats with one thread each; extra widens the guard
// (the planted off-by-one uses setp.gt instead of setp.ge).
func copyKernel(cmp string) string {
	return header + `
.visible .entry cp(.param .u64 src, .param .u64 dst, .param .u64 n)
{
	.reg .pred %p;
	.reg .b32 %r<6>;
	.reg .f32 %f1;
	.reg .b64 %rd<10>;
	ld.param.u64 %rd1, [src];
	ld.param.u64 %rd2, [dst];
	ld.param.u64 %rd3, [n];
	mov.u32 %r1, %ctaid.x;
	mov.u32 %r2, %ntid.x;
	mov.u32 %r3, %tid.x;
	mad.lo.u32 %r4, %r1, %r2, %r3;
	cvt.u64.u32 %rd4, %r4;
	setp.` + cmp + `.u64 %p, %rd4, %rd3;
	@%p ret;
	shl.b64 %rd5, %rd4, 2;
	add.u64 %rd6, %rd1, %rd5;
	add.u64 %rd7, %rd2, %rd5;
	mov.f32 %f1, 0f3F800000;
	st.global.f32 [%rd7], %f1;
	ret;
}
`
}

func TestOffByOneStoreIsCaught(t *testing.T) {
	d := NewDevice()
	src, dst := d.Alloc(4*100), d.Alloc(4*100)
	if err := launch1(t, d, copyKernel("ge"), "cp", 4, 32, uint64(src), uint64(dst), 100); err != nil {
		t.Fatal(err)
	}
	err := launch1(t, d, copyKernel("gt"), "cp", 4, 32, uint64(src), uint64(dst), 100)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error, got %v", err)
	}
	// global thread 100 = block 3, thread 4
	if e.Kernel != "cp" || e.Block != [3]int{3, 0, 0} || e.Thread != [3]int{4, 0, 0} ||
		!strings.Contains(e.Text, "st.global.f32") || !strings.Contains(e.Msg, "offset 400") {
		t.Fatalf("error does not locate the bug: %v", err)
	}
}

func TestMemoryChecks(t *testing.T) {
	body := func(code string) string {
		return header + `
.visible .entry k(.param .u64 p)
{
	.shared .align 4 .b8 s[64];
	.reg .b32 %r<4>;
	.reg .f32 %f1;
	.reg .b64 %rd<4>;
	ld.param.u64 %rd1, [p];
	` + code + `
	ret;
}
`
	}
	cases := []struct{ name, code, want string }{
		{"misaligned global", "ld.global.f32 %f1, [%rd1+2];", "misaligned"},
		{"misaligned vector", "ld.global.v4.f32 {%f1, %f1, %f1, %f1}, [%rd1+8];", "misaligned"},
		{"uninitialised global", "ld.global.f32 %f1, [%rd1+64];", "uninitialised global"},
		{"shared out of bounds", "st.shared.u32 [s+64], %r1;", "out-of-bounds shared"},
		{"shared uninitialised", "ld.shared.u32 %r1, [s+4];", "uninitialised shared"},
		{"null pointer", "mov.u64 %rd2, 0; ld.global.u32 %r1, [%rd2];", "outside every allocation"},
		{"generic shared window", "mov.u64 %rd2, s; cvta.shared.u64 %rd2, %rd2; st.u32 [%rd2+60], %r1; ld.shared.u32 %r2, [s+60]; st.global.u32 [%rd1], %r2;", ""},
		{"integer division by zero", "mov.u32 %r1, 0; div.u32 %r2, 5, %r1;", "division by zero"},
	}
	for _, c := range cases {
		d := NewDevice()
		p := d.Alloc(128)
		d.Write(p, make([]byte, 64))
		err := launch1(t, d, body(c.code), "k", 1, 1, uint64(p))
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want %q, got %v", c.name, c.want, err)
		}
	}
}

func TestAtomics(t *testing.T) {
	src := header + `
.visible .entry k(.param .u64 p)
{
	.shared .align 4 .f32 acc;
	.reg .pred %p;
	.reg .b32 %r<8>;
	.reg .f32 %f<3>;
	.reg .b64 %rd<4>;
	ld.param.u64 %rd1, [p];
	mov.u32 %r1, %tid.x;
	setp.eq.u32 %p, %r1, 0;
	@%p st.shared.f32 [acc], 0f00000000;
	bar.sync 0;
	atom.global.add.u32 %r2, [%rd1], 1;
	atom.global.max.s32 %r3, [%rd1+4], %r1;
	red.global.add.f32 [%rd1+8], 0f3F000000;
	atom.shared.add.f32 %f1, [acc], 0f40000000;
	atom.global.exch.b32 %r4, [%rd1+12], %r1;
	// cas loop incrementing a counter
RETRY:
	ld.global.u32 %r5, [%rd1+16];
	add.u32 %r6, %r5, 2;
	atom.global.cas.b32 %r7, [%rd1+16], %r5, %r6;
	setp.ne.u32 %p, %r7, %r5;
	@%p bra RETRY;
	atom.global.min.u32 %r3, [%rd1+20], %r1;
	bar.sync 0;
	setp.eq.u32 %p, %r1, 0;
	@!%p ret;
	ld.shared.f32 %f2, [acc];
	st.global.f32 [%rd1+24], %f2;
	ret;
}
`
	d := NewDevice()
	p := d.Alloc(28)
	d.WriteUint32s(p, []uint32{0, 0, 0, 0, 0, 1000, 0})
	if err := launch1(t, d, src, "k", 1, 96, uint64(p)); err != nil {
		t.Fatal(err)
	}
	u, _ := d.ReadUint32s(p, 7)
	f, _ := d.ReadFloat32s(p, 7)
	if u[0] != 96 || u[1] != 95 || f[2] != 48 || u[3] != 95 || u[4] != 192 || u[5] != 0 || f[6] != 192 {
		t.Fatalf("atomics: %v %v", u, f)
	}
}

func TestCpAsync(t *testing.T) {
	src := func(wait string) string {
		return header + `
.visible .entry k(.param .u64 in, .param .u64 out)
{
	.shared .align 16 .b8 s[1024];
	.reg .b32 %r<8>;
	.reg .b64 %rd<8>;
	ld.param.u64 %rd1, [in];
	ld.param.u64 %rd2, [out];
	mov.u32 %r1, %tid.x;
	mul.wide.u32 %rd3, %r1, 16;
	add.u64 %rd4, %rd1, %rd3;
	mov.u32 %r2, s;
	mad.lo.u32 %r3, %r1, 16, %r2;
	and.b32 %r4, %r1, 1;
	shl.b32 %r4, %r4, 3;
	add.u32 %r4, %r4, 8;
	cp.async.ca.shared.global [%r3], [%rd4], 16, %r4;
	cp.async.commit_group;
	cp.async.cg.shared.global [%r3+512], [%rd4], 16;
	cp.async.commit_group;
	` + wait + `
	bar.sync 0;
	xor.b32 %r5, %r1, 1;
	mad.lo.u32 %r6, %r5, 16, %r2;
	ld.shared.v4.u32 {%r0, %r1, %r2, %r3}, [%r6];
	mul.wide.u32 %rd5, %r5, 16;
	add.u64 %rd6, %rd2, %rd5;
	st.global.v4.u32 [%rd6], {%r0, %r1, %r2, %r3};
	ret;
}
`
	}
	d := NewDevice()
	in, out := d.Alloc(512), d.Alloc(512)
	x := make([]uint32, 128)
	for i := range x {
		x[i] = uint32(i + 1)
	}
	d.WriteUint32s(in, x)
	// wait_group 1 retires the first group, which is all that is read
	if err := launch1(t, d, src("cp.async.wait_group 1;"), "k", 1, 32, uint64(in), uint64(out)); err != nil {
		t.Fatal(err)
	}
	got, _ := d.ReadUint32s(out, 128)
	for i, v := range got {
		want := x[i]
		if i%4 >= 2 && (i/4)%2 == 0 { // even threads copied 8 bytes, zero-filled
			want = 0
		}
		if v != want {
			t.Fatalf("out[%d] = %d want %d", i, v, want)
		}
	}
	// Without a wait the shared tile is read before the copy lands.
	err := launch1(t, d, src(""), "k", 1, 32, uint64(in), uint64(out))
	if err == nil || !strings.Contains(err.Error(), "uninitialised shared") {
		t.Fatalf("want an uninitialised-shared error, got %v", err)
	}
}

func TestStepLimit(t *testing.T) {
	src := header + `
.visible .entry k()
{
L:
	bra L;
}
`
	d := NewDevice()
	d.MaxSteps = 1000
	err := launch1(t, d, src, "k", 1, 1)
	if err == nil || !strings.Contains(err.Error(), "instructions") {
		t.Fatalf("want a step-limit error, got %v", err)
	}
}

func TestLaunchErrors(t *testing.T) {
	m, err := Load(copyKernel("ge"))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := m.Kernel("cp")
	if got := strings.Join(k.Params(), ","); got != "src,dst,n" || k.Name() != "cp" {
		t.Errorf("params %q name %q", got, k.Name())
	}
	d := NewDevice()
	if err := d.Launch(k, [3]int{1, 1, 1}, [3]int{32, 1, 1}, 0, 1, 2); err == nil {
		t.Error("wrong parameter count accepted")
	}
	if err := d.Launch(k, [3]int{0, 1, 1}, [3]int{32, 1, 1}, 0, 1, 2, 3); err == nil {
		t.Error("empty grid accepted")
	}
	if err := d.Launch(k, [3]int{1, 1, 1}, [3]int{2048, 1, 1}, 0, 1, 2, 3); err == nil {
		t.Error("2048-thread block accepted")
	}
	if _, err := m.Kernel("nope"); err == nil {
		t.Error("unknown kernel accepted")
	}
}

func TestLoadStoreWidths(t *testing.T) {
	src := header + `
.visible .entry k(.param .u64 p)
{
	.reg .b16 %h<3>;
	.reg .b32 %r<10>;
	.reg .b64 %rd<4>;
	ld.param.u64 %rd1, [p];
	ld.global.u8 %r1, [%rd1];
	ld.global.s8 %r2, [%rd1];
	ld.global.u16 %r3, [%rd1];
	ld.global.s16 %r4, [%rd1];
	ld.global.b16 %h1, [%rd1+2];
	ld.global.u64 %rd2, [%rd1];
	ld.global.v2.u16 {%h1, %h2}, [%rd1];
	st.global.u32 [%rd1+8], %r1;
	st.global.u32 [%rd1+12], %r2;
	st.global.u32 [%rd1+16], %r3;
	st.global.u32 [%rd1+20], %r4;
	st.global.u64 [%rd1+24], %rd2;
	st.global.v2.b16 [%rd1+32], {%h2, %h1};
	st.global.u8 [%rd1+36], 0x1ff;
	ret;
}
`
	d := NewDevice()
	p := d.Alloc(40)
	d.Write(p, []byte{0xf0, 0xff, 0x34, 0x12, 0x78, 0x56, 0, 0})
	d.Write(p+8, make([]byte, 32))
	if err := launch1(t, d, src, "k", 1, 1, uint64(p)); err != nil {
		t.Fatal(err)
	}
	u, _ := d.ReadUint32s(p, 10)
	want := []uint32{0x1234fff0, 0x5678, 0xf0, 0xfffffff0, 0xfff0, 0xfffffff0, 0x1234fff0, 0x5678, 0xfff01234, 0xff}
	for i := 2; i < 10; i++ {
		if u[i] != want[i] {
			t.Errorf("word %d = %#x, want %#x", i, u[i], want[i])
		}
	}
}

func TestCollectiveMisuse(t *testing.T) {
	mma := `mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%f0, %f1, %f2, %f3}, {%r0, %r0, %r0, %r0}, {%r0, %r0}, {%f0, %f1, %f2, %f3};`
	cases := []struct {
		code    string
		threads int
		want    string
	}{
		{mma, 48, "warp of only 16 threads"},
		{"mov.u32 %r1, %laneid; setp.lt.u32 %p, %r1, 8; @%p ret; " + mma, 32, "has exited"},
		{"mov.u32 %r1, %laneid; setp.lt.u32 %p, %r1, 8; selp.b32 %r2, 0xffffffff, 0xffffff00, %p; shfl.sync.idx.b32 %r3, %r1, 0, 0x1f, %r2;", 32, "disagree on the member mask"},
		{"shfl.sync.idx.b32 %r3, %r1, 0, 0x1f, 2;", 32, "not in its own member mask"},
		{"mov.u32 %r1, s; add.u32 %r1, %r1, 8; ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%r2}, [%r1];", 32, "misaligned"},
	}
	for _, c := range cases {
		src := header + `
.visible .entry k()
{
	.shared .align 16 .b8 s[256];
	.reg .pred %p;
	.reg .b32 %r<4>;
	.reg .f32 %f<4>;
	mov.u32 %r0, 0;
	mov.f32 %f0, 0f00000000;
	mov.f32 %f1, 0f00000000;
	mov.f32 %f2, 0f00000000;
	mov.f32 %f3, 0f00000000;
	` + c.code + `
	ret;
}
`
		err := launch1(t, NewDevice(), src, "k", 1, c.threads)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: want %q, got %v", c.code, c.want, err)
		}
	}
}
