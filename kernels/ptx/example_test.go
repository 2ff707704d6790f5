package ptx_test

import (
	"fmt"
	"strings"

	"github.com/nf4go/nf4/kernels/ptx"
)

// A kernel that scales a float32 vector in place: y[i] *= 2 for i < n.
func Example() {
	k := ptx.NewKernel("scale2")
	k.MaxThreads(128)
	pY := k.Param("y")
	pN := k.Param("n")
	y := k.LoadParam(pY)
	n := k.LoadParam(pN)
	tid := k.Special(ptx.TidX)
	cta := k.Special(ptx.CtaidX)
	i := k.Op("mad.lo", ptx.U32, cta, ptx.Imm(128), tid)
	i64 := k.Cvt("", ptx.U64, ptx.U32, i)
	in := k.Setp("lt", ptx.U64, i64, n)
	k.If(in, func() {
		addr := k.Op("add", ptx.U64, y, k.Shift("shl", ptx.B64, i64, ptx.Imm(2)))
		v := k.Ld("global", ptx.F32, ptx.Addr{Base: addr})
		k.St("global", ptx.F32, ptx.Addr{Base: addr}, k.Op("mul.rn", ptx.F32, v, ptx.F32Imm(2)))
	})
	m := ptx.NewModule()
	m.Add(k)
	src, err := m.Print(ptx.SM80)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(src)
	// Output:
	// .version 7.0
	// .target sm_80
	// .address_size 64
	//
	// .visible .entry scale2(
	// 	.param .u64 y,
	// 	.param .u64 n
	// )
	// .maxntid 128, 1, 1
	// {
	// 	.reg .pred %p<2>;
	// 	.reg .b32 %r<4>;
	// 	.reg .b64 %rd<6>;
	// 	.reg .f32 %f<3>;
	//
	// 	ld.param.u64 %rd1, [y];
	// 	ld.param.u64 %rd2, [n];
	// 	mov.u32 %r1, %tid.x;
	// 	mov.u32 %r2, %ctaid.x;
	// 	mad.lo.u32 %r3, %r2, 128, %r1;
	// 	cvt.u64.u32 %rd3, %r3;
	// 	setp.lt.u64 %p1, %rd3, %rd2;
	// 	@!%p1 bra $L__1;
	// 	shl.b64 %rd4, %rd3, 2;
	// 	add.u64 %rd5, %rd1, %rd4;
	// 	ld.global.f32 %f1, [%rd5];
	// 	mul.rn.f32 %f2, %f1, 0f40000000;
	// 	st.global.f32 [%rd5], %f2;
	// $L__1:
	// 	ret;
	// }
}

// Loops and branches generate their own labels; a kernel that needs a newer
// architecture than the target refuses to print.
func ExampleKernel_For() {
	k := ptx.NewKernel("sum")
	out := k.LoadParam(k.Param("out"))
	n := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(k.Param("n")))
	acc := k.Mov(ptx.U32, ptx.Imm(0))
	k.For(ptx.Imm(0), n, ptx.Imm(1), func(i ptx.Reg) {
		k.OpTo(acc, "add", ptx.U32, acc, i)
	})
	k.St("global", ptx.U32, ptx.Addr{Base: out}, acc)
	k.RequireSM(90)

	m := ptx.NewModule()
	m.Add(k)
	if _, err := m.Print(ptx.SM80); err != nil {
		fmt.Println(err)
	}
	src, _ := m.Print(ptx.SM90)
	fmt.Println(strings.Split(src, "\n")[0])
	// Output:
	// ptx: kernel sum needs sm_90 or newer, not sm_80
	// .version 7.8
}

// A barrier under a thread-dependent branch is rejected before printing.
func ExampleModule_Print() {
	k := ptx.NewKernel("bad")
	tid := k.Special(ptx.TidX)
	k.If(k.Setp("eq", ptx.U32, tid, ptx.Imm(0)), k.BarSync)
	m := ptx.NewModule()
	m.Add(k)
	_, err := m.Print(ptx.SM80)
	fmt.Println(err)
	// Output:
	// ptx: kernel bad: bar.sync under thread-dependent control flow
}
