package ptxsim

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrorsNameTheLine(t *testing.T) {
	wrap := func(body string) string {
		return header + "\n.visible .entry k(.param .u64 p)\n{\n\t.reg .b32 %r<4>;\n\t.reg .pred %p;\n" + body + "\n\tret;\n}\n"
	}
	const line = 9 // the first body line in wrap
	cases := []struct{ body, want string }{
		{"\ttestp.finite.f32 %p, %r1;", "unsupported instruction testp.finite.f32"},
		{"\ttex.1d.v4.f32.s32 {%r1, %r1, %r1, %r1}, [t, {%r1}];", "unsupported instruction tex"},
		{"\tadd.u32 %r1, %r9, 1;", "unknown operand %r9"},
		{"\tbra NOWHERE;", "unknown label NOWHERE"},
		{"\tadd.cc.u32 %r1, %r1, 1;", "unsupported modifier .cc"},
		{"\tmul.u32 %r1, %r1, 2;", "needs .lo, .hi or .wide"},
		{"\tld.local.u32 %r1, [%r2];", "unsupported modifier .local"},
		{"\tfma.f32 %r1, %r1, %r1, %r1;", "fma needs a rounding modifier"},
		{"\tcvt.f32.s32 %r1, %r1;", "int to float cvt needs"},
		{"\tcvt.s32.f32 %r1, %r1;", "float to int cvt needs"},
		{"\tshfl.down.b32 %r1, %r1, 1, 31;", "only shfl.sync"},
		{"\tmma.sync.aligned.m16n8k32.row.col.f32.s8.s8.f32 {%r1,%r1,%r1,%r1}, {%r1,%r1,%r1,%r1}, {%r1,%r1}, {%r1,%r1,%r1,%r1};", "unsupported mma shape"},
		{"\t@%r1 bra L;\nL:", "not a predicate"},
		{"\tmov.u32 %tid.x, 1;", "cannot write special register"},
		{"\tadd.u32 %r1, %r1;", "wrong number of operands"},
	}
	for _, c := range cases {
		_, err := Load(wrap(c.body))
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: want *Error, got %v", c.body, err)
			continue
		}
		if !strings.Contains(e.Msg, c.want) || e.Line != line || e.Kernel != "k" {
			t.Errorf("%q: got %v (line %d), want %q at line %d", c.body, err, e.Line, c.want, line)
		}
	}
}

func TestParseModuleErrors(t *testing.T) {
	for _, src := range []string{
		header + ".visible .func f() {}",
		header + ".global .u32 g;",
		header + ".visible .entry k( { ret; }",
		header + ".visible .entry k() { ret; ",
		header + ".visible .entry k() { ret; }\n.visible .entry k() { ret; }",
		"/* unterminated",
		"\"unterminated",
		header + ".visible .entry k() { .reg .b32 %r<4>; .reg .b32 %r1; ret; }",
		header + ".visible .entry k() { L: L: ret; }",
		header + ".visible .entry k() { # }",
		header + ".const .f32 c[2] = {1, 2};",
		header + ".visible .entry k() { .extern .shared .b8 d[]; ret; }",
		header + ".const .u32 c[2] = {1.0, 2};",
	} {
		if _, err := Load(src); err == nil {
			t.Errorf("accepted %q", src)
		}
	}
}

func TestParseAcceptsBuilderForms(t *testing.T) {
	src := `
// comment
.version 7.8
.target sm_80, texmode_unified
.address_size 64

.const .align 4 .f32 tbl[4] = {0f3F800000, -1.5, 2.0, 0f40400000};
.const .align 4 .b32 ints[2] = {7, -1};
.extern .shared .align 16 .b8 dyn[];

.visible .entry k(
	.param .u64 out
)
.maxntid 128, 1, 1
.minnctapersm 1
{
	.reg .pred %p<2>;
	.reg .b32 %r<8>;
	.reg .f32 %f<4>;
	.reg .b64 %rd<4>;
	.shared .align 16 .b8 s[32];
	/* block
	   comment */
	ld.param.u64 %rd1, [out];
	{
		.reg .b32 %inner;
		mov.u32 %inner, 3;
		ld.const.f32 %f1, [tbl+4];
		ld.const.u32 %r1, [ints+4];
	}
	mov.u32 %r2, dyn;
	st.shared.u32 [%r2], %r1;
	ld.shared.u32 %r3, [dyn];
	st.global.f32 [%rd1], %f1;
	st.global.u32 [%rd1+4], %r3;
	membar.cta;
	fence.acq_rel.gpu;
	bar.warp.sync 1;
	barrier.sync.aligned 0;
	ret;
}
`
	m, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := m.Kernel("k")
	d := NewDevice()
	out := d.Alloc(8)
	if err := d.Launch(k, [3]int{1, 1, 1}, [3]int{1, 1, 1}, 16, uint64(out)); err != nil {
		t.Fatal(err)
	}
	f, _ := d.ReadFloat32s(out, 1)
	u, _ := d.ReadUint32s(out, 2)
	if f[0] != -1.5 || u[1] != 0xffffffff {
		t.Fatalf("got %v %#x", f[0], u[1])
	}
	if err := d.Launch(k, [3]int{1, 1, 1}, [3]int{1, 1, 1}, 0, uint64(out)); err == nil {
		t.Fatal("dynamic shared access without dynamic shared memory accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(header + ".visible .entry k(.param .u64 p) { .reg .b32 %r<2>; ld.param.u64 %r1, [p]; ret; }")
	f.Add(reduction("bar.sync 0;"))
	f.Add(mmaKernel("m16n8k16", "f16", false))
	f.Add(shflKernel("idx", 3, 0x1f))
	f.Add(copyKernel("ge"))
	f.Add("{[(<>)]}; @! | -0x 0f 0d 1e+ \"")
	f.Fuzz(func(t *testing.T, src string) {
		m, err := Load(src)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// A module that loads must also launch without panicking.
		d := NewDevice()
		d.MaxSteps = 10000
		p := d.Alloc(256)
		for _, name := range m.Kernels() {
			k, _ := m.Kernel(name)
			params := make([]uint64, len(k.params))
			for i := range params {
				params[i] = uint64(p)
			}
			_ = d.Launch(k, [3]int{1, 1, 1}, [3]int{32, 1, 1}, 16, params...)
		}
	})
}
