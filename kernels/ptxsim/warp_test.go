package ptxsim

import (
	"fmt"
	"strings"
	"testing"
)

// shflKernel stores, per thread, the shuffled value and the predicate.
func shflKernel(mode string, b, c uint32) string {
	return header + fmt.Sprintf(`
.visible .entry k(.param .u64 out)
{
	.reg .pred %%p;
	.reg .b32 %%r<6>;
	.reg .b64 %%rd<4>;
	ld.param.u64 %%rd1, [out];
	mov.u32 %%r1, %%tid.x;
	mad.lo.u32 %%r2, %%r1, 10, 1;
	shfl.sync.%s.b32 %%r3|%%p, %%r2, %d, %d, 0xffffffff;
	selp.u32 %%r4, 1, 0, %%p;
	mul.wide.u32 %%rd2, %%r1, 8;
	add.u64 %%rd3, %%rd1, %%rd2;
	st.global.v2.u32 [%%rd3], {%%r3, %%r4};
	ret;
}
`, mode, b, c)
}

func TestShuffleModes(t *testing.T) {
	const w8 = (32-8)<<8 | 0x1f // CUDA's c for width 8
	cases := []struct {
		mode string
		b, c uint32
		src  func(l int) (int, bool) // CUDA semantics: source lane, in range
	}{
		{"down", 1, 0x1f, func(l int) (int, bool) { return l + 1, l < 31 }},
		{"down", 5, 0x1f, func(l int) (int, bool) { return l + 5, l < 27 }},
		{"up", 1, 0, func(l int) (int, bool) { return l - 1, l >= 1 }},
		{"up", 3, 0, func(l int) (int, bool) { return l - 3, l >= 3 }},
		{"bfly", 1, 0x1f, func(l int) (int, bool) { return l ^ 1, true }},
		{"bfly", 16, 0x1f, func(l int) (int, bool) { return l ^ 16, true }},
		{"idx", 5, 0x1f, func(l int) (int, bool) { return 5, true }},
		{"idx", 37, 0x1f, func(l int) (int, bool) { return 5, true }},
		{"down", 1, w8, func(l int) (int, bool) { return l + 1, l%8 < 7 }},
		{"up", 2, (32 - 8) << 8, func(l int) (int, bool) { return l - 2, l%8 >= 2 }},
		{"idx", 3, w8, func(l int) (int, bool) { return l&^7 + 3, true }},
		{"bfly", 4, w8, func(l int) (int, bool) { return l ^ 4, true }},
	}
	for _, c := range cases {
		d := NewDevice()
		out := d.Alloc(8 * 64)
		if err := launch1(t, d, shflKernel(c.mode, c.b, c.c), "k", 1, 64, uint64(out)); err != nil {
			t.Fatal(err)
		}
		got, _ := d.ReadUint32s(out, 128)
		for tid := 0; tid < 64; tid++ {
			l := tid % 32
			src, ok := c.src(l)
			if !ok {
				src = l
			}
			want := uint32((tid-l+src)*10 + 1)
			if got[2*tid] != want || (got[2*tid+1] == 1) != ok {
				t.Errorf("shfl.%s b=%d c=%#x thread %d: got %d,%d want %d,%v", c.mode, c.b, c.c, tid, got[2*tid], got[2*tid+1], want, ok)
			}
		}
	}
}

func TestShufflePartialMaskAndDivergence(t *testing.T) {
	// Lanes 0-15 shuffle among themselves in one branch, lanes 16-31 in
	// another, with different masks and at different instructions.
	src := header + `
.visible .entry k(.param .u64 out)
{
	.reg .pred %p;
	.reg .b32 %r<6>;
	.reg .b64 %rd<4>;
	ld.param.u64 %rd1, [out];
	mov.u32 %r1, %laneid;
	setp.lt.u32 %p, %r1, 16;
	@%p bra LOW;
	shfl.sync.bfly.b32 %r3, %r1, 2, 0x1f, 0xffff0000;
	bra.uni DONE;
LOW:
	shfl.sync.down.b32 %r3, %r1, 1, 0xf, 0x0000ffff;
DONE:
	mul.wide.u32 %rd2, %r1, 4;
	add.u64 %rd3, %rd1, %rd2;
	st.global.u32 [%rd3], %r3;
	ret;
}
`
	d := NewDevice()
	out := d.Alloc(4 * 32)
	if err := launch1(t, d, src, "k", 1, 32, uint64(out)); err != nil {
		t.Fatal(err)
	}
	got, _ := d.ReadUint32s(out, 32)
	for l := 0; l < 32; l++ {
		want := l ^ 2
		if l < 16 {
			want = min(l+1, 15)
			if l == 15 {
				want = 15
			}
		}
		if got[l] != uint32(want) {
			t.Errorf("lane %d: got %d want %d", l, got[l], want)
		}
	}
}

func TestShuffleWithExitedLane(t *testing.T) {
	src := header + `
.visible .entry k(.param .u64 out)
{
	.reg .pred %p;
	.reg .b32 %r<4>;
	mov.u32 %r1, %laneid;
	setp.eq.u32 %p, %r1, 31;
	@%p ret;
	shfl.sync.down.b32 %r2, %r1, 1, 0x1f, 0xffffffff;
	ret;
}
`
	err := launch1(t, NewDevice(), src, "k", 1, 32, 0)
	if err == nil || !strings.Contains(err.Error(), "member lane 31") {
		t.Fatalf("want a member-lane error, got %v", err)
	}
}

func TestVote(t *testing.T) {
	src := header + `
.visible .entry k(.param .u64 out)
{
	.reg .pred %p, %q;
	.reg .b32 %r<10>;
	.reg .b64 %rd<4>;
	ld.param.u64 %rd1, [out];
	mov.u32 %r1, %tid.x;
	rem.u32 %r2, %r1, 3;
	setp.eq.u32 %p, %r2, 0;
	vote.sync.ballot.b32 %r3, %p, 0xffffffff;
	vote.sync.any.pred %q, %p, 0xffffffff;
	selp.u32 %r4, 1, 0, %q;
	vote.sync.all.pred %q, !%p, 0xffffffff;
	selp.u32 %r5, 1, 0, %q;
	setp.lt.u32 %p, %r1, 100;
	vote.sync.all.pred %q, %p, 0xffffffff;
	selp.u32 %r6, 1, 0, %q;
	vote.sync.uni.pred %q, %p, 0xffffffff;
	selp.u32 %r7, 1, 0, %q;
	mul.wide.u32 %rd2, %r1, 16;
	add.u64 %rd3, %rd1, %rd2;
	st.global.v4.u32 [%rd3], {%r3, %r4, %r5, %r6};
	ret;
}
`
	d := NewDevice()
	out := d.Alloc(16 * 64)
	if err := launch1(t, d, src, "k", 1, 64, uint64(out)); err != nil {
		t.Fatal(err)
	}
	got, _ := d.ReadUint32s(out, 4*64)
	for tid := 0; tid < 64; tid++ {
		w := tid / 32
		var ballot uint32
		for l := 0; l < 32; l++ {
			if (32*w+l)%3 == 0 {
				ballot |= 1 << l
			}
		}
		want := [4]uint32{ballot, 1, 0, 1}
		if [4]uint32(got[4*tid:4*tid+4]) != want {
			t.Errorf("thread %d: got %v want %v", tid, got[4*tid:4*tid+4], want)
		}
	}
}
