package ptxsim

import (
	"testing"
	"time"
)

// BenchmarkLoop measures the interpreter on a plain arithmetic loop.
func BenchmarkLoop(b *testing.B) { benchLoop(b, false) }

// BenchmarkLoopProfiled is the same loop with the profiler on.
func BenchmarkLoopProfiled(b *testing.B) { benchLoop(b, true) }

func benchLoop(b *testing.B, profile bool) {
	src := header + `
.visible .entry k(.param .u64 out)
{
	.reg .pred %p;
	.reg .b32 %r<4>;
	.reg .f32 %f<3>;
	.reg .b64 %rd<4>;
	ld.param.u64 %rd1, [out];
	mov.u32 %r1, 0;
	mov.f32 %f1, 0f00000000;
L:
	cvt.rn.f32.u32 %f2, %r1;
	fma.rn.f32 %f1, %f2, 0f3F000000, %f1;
	add.u32 %r1, %r1, 1;
	setp.lt.u32 %p, %r1, 1000;
	@%p bra L;
	mov.u32 %r2, %tid.x;
	mul.wide.u32 %rd2, %r2, 4;
	add.u64 %rd3, %rd1, %rd2;
	st.global.f32 [%rd3], %f1;
	ret;
}
`
	m, err := Load(src)
	if err != nil {
		b.Fatal(err)
	}
	k, _ := m.Kernel("k")
	d := NewDevice()
	if profile {
		d.Profile = NewProfile()
	}
	out := d.Alloc(4 * 256)
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := d.Launch(k, [3]int{4, 1, 1}, [3]int{256, 1, 1}, 0, uint64(out)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(d.Executed)/time.Since(start).Seconds()/1e6, "Minst/s")
}
