package ptxsim

import (
	"math"
	"testing"
)

func fb(f float32) uint64 { return uint64(math.Float32bits(f)) }

func TestIntegerOps(t *testing.T) {
	runALU(t, []aluCase{
		{"add wraps", "mov.u32 %a, 0x7fffffff; add.s32 %r, %a, 1;", "%r", 0x80000000},
		{"add.sat", "mov.u32 %a, 0x7fffffff; add.sat.s32 %r, %a, 1;", "%r", 0x7fffffff},
		{"sub.sat low", "mov.u32 %a, 0x80000000; sub.sat.s32 %r, %a, 1;", "%r", 0x80000000},
		{"sub", "sub.s32 %r, 3, 5;", "%r", 0xfffffffe},
		{"mul.lo", "mov.s32 %a, -3; mul.lo.s32 %r, %a, 7;", "%r", 0xffffffeb},
		{"mul.hi.u32", "mov.u32 %a, 0xffffffff; mul.hi.u32 %r, %a, %a;", "%r", 0xfffffffe},
		{"mul.hi.s32", "mov.s32 %a, -1; mul.hi.s32 %r, %a, 1;", "%r", 0xffffffff},
		{"mul.wide.s32", "mov.s32 %a, -2; mul.wide.s32 %l, %a, 3;", "%l", uint64(math.MaxUint64 - 5)},
		{"mul.wide.u32", "mov.u32 %a, 0xffffffff; mul.wide.u32 %l, %a, 2;", "%l", 0x1fffffffe},
		{"mad.lo", "mov.u32 %a, 2; mad.lo.s32 %r, %a, 3, 4;", "%r", 10},
		{"mad.wide.u32", "mov.u32 %a, 0x80000000; mov.u64 %la, 1; mad.wide.u32 %l, %a, 4, %la;", "%l", 0x200000001},
		{"mul.hi.u64", "mov.u64 %la, 0xffffffffffffffff; mul.hi.u64 %l, %la, %la;", "%l", 0xfffffffffffffffe},
		{"mul.hi.s64", "mov.s64 %la, -1; mul.hi.s64 %l, %la, 5;", "%l", math.MaxUint64},
		{"div.s32", "mov.s32 %a, -7; div.s32 %r, %a, 2;", "%r", 0xfffffffd},
		{"rem.s32", "mov.s32 %a, -7; rem.s32 %r, %a, 2;", "%r", 0xffffffff},
		{"div.u32", "div.u32 %r, 7, 2;", "%r", 3},
		{"rem.u64", "mov.u64 %la, 1000000000007; rem.u64 %l, %la, 10;", "%l", 7},
		{"min.s32", "mov.s32 %a, -1; min.s32 %r, %a, 1;", "%r", 0xffffffff},
		{"min.u32", "mov.u32 %a, 0xffffffff; min.u32 %r, %a, 1;", "%r", 1},
		{"max.s32", "mov.s32 %a, -1; max.s32 %r, %a, 1;", "%r", 1},
		{"max.u64", "mov.u64 %la, 5; max.u64 %l, %la, 9;", "%l", 9},
		{"neg", "neg.s32 %r, 5;", "%r", 0xfffffffb},
		{"abs", "mov.s32 %a, -5; abs.s32 %r, %a;", "%r", 5},
		{"and", "and.b32 %r, 0xf0f0, 0xff00;", "%r", 0xf000},
		{"or", "or.b32 %r, 0xf0f0, 0xff00;", "%r", 0xfff0},
		{"xor", "xor.b32 %r, 0xf0f0, 0xff00;", "%r", 0x0ff0},
		{"not", "not.b32 %r, 0xf0f0;", "%r", 0xffff0f0f},
		{"shl", "shl.b32 %r, 1, 31;", "%r", 0x80000000},
		{"shl past width", "shl.b32 %r, 1, 32;", "%r", 0},
		{"shr.s32", "mov.s32 %a, -8; shr.s32 %r, %a, 1;", "%r", 0xfffffffc},
		{"shr.s32 past width", "mov.s32 %a, -8; shr.s32 %r, %a, 40;", "%r", 0xffffffff},
		{"shr.u32", "shr.u32 %r, 0x80000000, 31;", "%r", 1},
		{"shr.b64", "mov.b64 %la, 0x8000000000000000; shr.b64 %l, %la, 63;", "%l", 1},
		{"bfe.u32", "bfe.u32 %r, 0x12345678, 8, 8;", "%r", 0x56},
		{"bfe.s32", "bfe.s32 %r, 0x0000f000, 12, 4;", "%r", 0xffffffff},
		{"bfe len 0", "bfe.u32 %r, 0x12345678, 8, 0;", "%r", 0},
		{"bfe past end", "bfe.u32 %r, 0xf0000000, 28, 8;", "%r", 0xf},
		{"bfi", "bfi.b32 %r, 0xff, 0x1, 8, 4;", "%r", 0xf01},
		{"prmt", "prmt.b32 %r, 0x33221100, 0x77665544, 0x5140;", "%r", 0x55114400},
		{"prmt sign", "prmt.b32 %r, 0x00008000, 0, 0x0009;", "%r", 0xff},
		{"lop3 xor3", "lop3.b32 %r, 0xff00ff00, 0xf0f0f0f0, 0xcccccccc, 0x96;", "%r", 0xff00ff00 ^ 0xf0f0f0f0 ^ 0xcccccccc},
		{"lop3 a&b|c", "lop3.b32 %r, 0xff00ff00, 0xf0f0f0f0, 0x0000000f, 0xea;", "%r", 0xf000f00f},
		{"popc", "popc.b32 %r, 0xff00ff00;", "%r", 16},
		{"clz", "clz.b32 %r, 1;", "%r", 31},
		{"clz.b64", "mov.b64 %la, 1; clz.b64 %r, %la;", "%r", 63},
		{"brev", "brev.b32 %r, 1;", "%r", 0x80000000},
		{"setp.lt.s32", "mov.s32 %a, -1; setp.lt.s32 %p, %a, 1;", "%p", 1},
		{"setp.lt.u32", "mov.s32 %a, -1; setp.lt.u32 %p, %a, 1;", "%p", 0},
		{"setp.hs", "setp.hs.u32 %p, 5, 5;", "%p", 1},
		{"setp pair", "setp.gt.s32 %q|%p, 1, 2;", "%p", 1},
		{"setp.and", "setp.eq.u32 %q, 1, 1; setp.lt.and.s32 %p, 1, 2, !%q;", "%p", 0},
		{"setp.or", "setp.eq.u32 %q, 1, 1; setp.gt.or.s32 %p, 1, 2, %q;", "%p", 1},
		{"setp.xor", "setp.eq.u32 %q, 1, 1; setp.lt.xor.s32 %p, 1, 2, %q;", "%p", 0},
		{"selp", "setp.ne.u32 %p, 1, 2; selp.b32 %r, 7, 9, %p;", "%r", 7},
		{"pred logic", "setp.eq.u32 %p1, 1, 1; setp.eq.u32 %p2, 1, 2; or.pred %q, %p1, %p2; and.pred %p, %q, %p1; not.pred %p, %p; xor.pred %p, %p, %p1;", "%p", 1},
		{"predicated skip", "mov.u32 %r, 1; setp.eq.u32 %p, 1, 2; @%p mov.u32 %r, 2; @!%p add.u32 %r, %r, 10;", "%r", 11},
		{"cvt.s32.s8", "cvt.s32.s8 %r, 0xff;", "%r", 0xffffffff},
		{"cvt.u32.u8", "mov.u32 %a, 0x1ff; cvt.u32.u8 %r, %a;", "%r", 0xff},
		{"cvt.sat.s8.s32", "cvt.sat.s8.s32 %r, 300;", "%r", 127},
		{"cvt.sat.u8.s32", "mov.s32 %a, -5; cvt.sat.u8.s32 %r, %a;", "%r", 0},
		{"cvt.u64.s32", "mov.s32 %a, -1; cvt.u64.s32 %l, %a;", "%l", math.MaxUint64},
		{"cvt.u32.u64", "mov.u64 %la, 0x123456789; cvt.u32.u64 %r, %la;", "%r", 0x23456789},
		{"cvt.u16.u32", "cvt.u16.u32 %h, 0x12345;", "%h", 0x2345},
		{"pack/unpack", "mov.b32 %r, {%ha, %hb}; mov.b16 %ha, 0x1111; mov.b16 %hb, 0x2222; mov.b32 %r, {%ha, %hb}; mov.b32 {%hb, %ha}, %r; mov.b32 %r, {%ha, %hb};", "%r", 0x11112222},
		{"pack64", "mov.b64 %l, {%a, %b}; mov.b32 %a, 1; mov.b32 %b, 2; mov.b64 %l, {%a, %b};", "%l", 0x200000001},
		{"special regs", "mov.u32 %a, %tid.x; mov.u32 %b, %ntid.x; mov.u32 %c, %nctaid.x; add.u32 %r, %a, %b; add.u32 %r, %r, %c; mov.u32 %a, %laneid; add.u32 %r, %r, %a;", "%r", 2},
	})
}

func TestFloatOps(t *testing.T) {
	// a*b = 2^-24 + 2^-60: rounding a*b+1 to float64 lands on the f32
	// midpoint 1+2^-24 and a naive second rounding goes down.
	a := float32(4097.0 / 4096)
	bf := float32(math.Ldexp(16773121, -48))
	runALU(t, []aluCase{
		{"add ties even", "add.rn.f32 %f, 0f3F800000, 0f33800000;", "%f", fb(1)},
		{"add", "add.f32 %f, 0f3F800000, 0f34400000;", "%f", 0x3f800002},
		{"add.rp", "add.rp.f32 %f, 0f3F800000, 0f30800000;", "%f", 0x3f800001},
		{"add.rm", "add.rm.f32 %f, 0f3F800000, 0f30800000;", "%f", 0x3f800000},
		{"add.rz neg", "add.rz.f32 %f, 0fBF800000, 0fB0800000;", "%f", 0xbf800000},
		{"add.rm neg", "add.rm.f32 %f, 0fBF800000, 0fB0800000;", "%f", 0xbf800001},
		{"sub", "sub.f32 %f, 0f40000000, 0f3F800000;", "%f", fb(1)},
		{"mul.rz", "mul.rz.f32 %f, 0f3F800001, 0f3F800001;", "%f", 0x3f800002},
		{"mul.rp", "mul.rp.f32 %f, 0f3F800001, 0f3F800001;", "%f", 0x3f800003},
		{"fma no double rounding", "mov.b32 %fa, " + lit(a) + "; mov.b32 %fb, " + lit(bf) + "; fma.rn.f32 %f, %fa, %fb, 0f3F800000;", "%f", 0x3f800001},
		{"fma.rz", "fma.rz.f32 %f, 0f3F800001, 0f3F800001, 0f00000000;", "%f", 0x3f800002},
		{"mad.rn", "mad.rn.f32 %f, 0f40000000, 0f40400000, 0f3F800000;", "%f", fb(7)},
		{"div.rn", "div.rn.f32 %f, 0f3F800000, 0f40400000;", "%f", fb(float32(1) / 3)},
		{"div.full", "div.full.f32 %f, 0f40C00000, 0f40400000;", "%f", fb(2)},
		{"rcp.rn", "rcp.rn.f32 %f, 0f40400000;", "%f", fb(float32(1) / 3)},
		{"rcp.approx inf", "rcp.approx.f32 %f, 0f00000000;", "%f", fb(float32(math.Inf(1)))},
		{"sqrt.rn", "sqrt.rn.f32 %f, 0f40000000;", "%f", fb(float32(math.Sqrt2))},
		{"sqrt neg", "sqrt.approx.f32 %f, 0fBF800000;", "%f", 0x7fffffff},
		{"rsqrt", "rsqrt.approx.f32 %f, 0f40800000;", "%f", fb(0.5)},
		{"ex2", "ex2.approx.f32 %f, 0f40400000;", "%f", fb(8)},
		{"lg2", "lg2.approx.f32 %f, 0f41000000;", "%f", fb(3)},
		{"min NaN", "min.f32 %f, 0f7FC00000, 0f40000000;", "%f", fb(2)},
		{"max NaN", "max.f32 %f, 0f40000000, 0f7FC00000;", "%f", fb(2)},
		{"min zeros", "min.f32 %f, 0f00000000, 0f80000000;", "%f", 0x80000000},
		{"max zeros", "max.f32 %f, 0f80000000, 0f00000000;", "%f", 0},
		{"neg", "neg.f32 %f, 0f40000000;", "%f", fb(-2)},
		{"abs", "abs.f32 %f, 0fC0000000;", "%f", fb(2)},
		{"ftz", "add.ftz.f32 %f, 0f00000001, 0f00000000;", "%f", 0},
		{"no ftz", "add.f32 %f, 0f00000001, 0f00000000;", "%f", 1},
		{"sat", "add.sat.f32 %f, 0f3F400000, 0f3F000000;", "%f", fb(1)},
		{"sat NaN", "add.sat.f32 %f, 0f7FC00000, 0f3F000000;", "%f", 0},
		{"decimal literal", "mov.f32 %f, 1.5;", "%f", fb(1.5)},
		{"setp.lt.f32", "setp.lt.f32 %p, 0fBF800000, 0f00000000;", "%p", 1},
		{"setp NaN ordered", "setp.ne.f32 %p, 0f7FC00000, 0f00000000;", "%p", 0},
		{"setp NaN unordered", "setp.neu.f32 %p, 0f7FC00000, 0f00000000;", "%p", 1},
		{"setp.nan", "setp.nan.f32 %p, 0f7FC00000, 0f00000000;", "%p", 1},
		{"setp.num", "setp.num.f32 %p, 0f3F800000, 0f00000000;", "%p", 1},
		{"selp.f32", "setp.eq.f32 %p, 0f00000000, 0f80000000; selp.f32 %f, 0f3F800000, 0f40000000, %p;", "%f", fb(1)},
		{"f64 fma", "mov.f64 %da, 0d3FF0000000000001; fma.rn.f64 %d, %da, %da, 0dBFF0000000000000;", "%d", math.Float64bits(math.FMA(1+0x1p-52, 1+0x1p-52, -1))},
		{"f64 div", "div.rn.f64 %d, 0d3FF0000000000000, 0d4008000000000000;", "%d", math.Float64bits(1.0 / 3)},
	})
}

func lit(f float32) string { return "0f" + hex8(math.Float32bits(f)) }

func hex8(v uint32) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b)
}

func TestConversions(t *testing.T) {
	runALU(t, []aluCase{
		{"f16 one", "cvt.rn.f16.f32 %h, 0f3F800000;", "%h", 0x3c00},
		{"f16 overflow rn", "cvt.rn.f16.f32 %h, 0f477FF000;", "%h", 0x7c00},
		{"f16 overflow rz", "cvt.rz.f16.f32 %h, 0f477FF000;", "%h", 0x7bff},
		{"f16 max", "cvt.rn.f16.f32 %h, 0f477FE000;", "%h", 0x7bff},
		{"f16 min subnormal", "cvt.rn.f16.f32 %h, 0f33800000;", "%h", 0x0001},
		{"f16 half min subnormal ties to 0", "cvt.rn.f16.f32 %h, 0f33000000;", "%h", 0},
		{"f16 0.75 min subnormal", "cvt.rn.f16.f32 %h, 0f33400000;", "%h", 1},
		{"f16 rp tiny", "cvt.rp.f16.f32 %h, 0f00000001;", "%h", 1},
		{"f16 rm neg tiny", "cvt.rm.f16.f32 %h, 0f80000001;", "%h", 0x8001},
		{"f16 neg", "cvt.rn.f16.f32 %h, 0fC0000000;", "%h", 0xc000},
		{"f16 inf", "cvt.rn.f16.f32 %h, 0fFF800000;", "%h", 0xfc00},
		{"f16 to f32", "mov.b16 %h, 0x3c00; cvt.f32.f16 %f, %h;", "%f", fb(1)},
		{"f16 subnormal to f32", "mov.b16 %h, 0x0001; cvt.f32.f16 %f, %h;", "%f", fb(float32(math.Ldexp(1, -24)))},
		{"bf16 tie even down", "cvt.rn.bf16.f32 %h, 0f3F808000;", "%h", 0x3f80},
		{"bf16 tie even up", "cvt.rn.bf16.f32 %h, 0f3F818000;", "%h", 0x3f82},
		{"bf16 rz", "cvt.rz.bf16.f32 %h, 0f3F81FFFF;", "%h", 0x3f81},
		{"bf16 to f32", "mov.b16 %h, 0x3fc0; cvt.f32.bf16 %f, %h;", "%f", fb(1.5)},
		{"tf32 rna tie away", "cvt.rna.tf32.f32 %r, 0f3F801000;", "%r", 0x3f802000},
		{"tf32 rna below", "cvt.rna.tf32.f32 %r, 0f3F800FFF;", "%r", 0x3f800000},
		{"f16x2", "cvt.rn.f16x2.f32 %r, 0f3F800000, 0f40000000;", "%r", 0x3c004000},
		{"bf16x2", "cvt.rn.bf16x2.f32 %r, 0f3F800000, 0f40000000;", "%r", 0x3f804000},
		{"rzi", "cvt.rzi.s32.f32 %r, 0fC02CCCCD;", "%r", 0xfffffffe},
		{"rni", "cvt.rni.s32.f32 %r, 0f40200000;", "%r", 2},
		{"rmi", "cvt.rmi.s32.f32 %r, 0fC0200000;", "%r", 0xfffffffd},
		{"rpi", "cvt.rpi.s32.f32 %r, 0f40100000;", "%r", 3},
		{"NaN to int", "cvt.rzi.s32.f32 %r, 0f7FC00000;", "%r", 0},
		{"saturate to int", "cvt.rzi.s32.f32 %r, 0f501502F9;", "%r", 0x7fffffff},
		{"negative to unsigned", "cvt.rzi.u32.f32 %r, 0fBF800000;", "%r", 0},
		{"int to f32 rn", "cvt.rn.f32.s32 %f, 16777217;", "%f", fb(16777216)},
		{"u32 to f32 rz", "cvt.rz.f32.u32 %f, 0xffffffff;", "%f", 0x4f7fffff},
		{"u32 to f32 rn", "cvt.rn.f32.u32 %f, 0xffffffff;", "%f", 0x4f800000},
		{"s64 to f32", "mov.s64 %la, -3; cvt.rn.f32.s64 %f, %la;", "%f", fb(-3)},
		{"rni f32", "cvt.rni.f32.f32 %f, 0f40200000;", "%f", fb(2)},
		{"f32 to f64", "cvt.f64.f32 %d, 0f3FC00000;", "%d", math.Float64bits(1.5)},
		{"f64 to f32 rz", "cvt.rz.f32.f64 %f, 0d3FF0000001000000;", "%f", fb(1)},
		{"f64 to f32 rp", "cvt.rp.f32.f64 %f, 0d3FF0000001000000;", "%f", 0x3f800001},
		{"sat cvt", "cvt.sat.f32.f32 %f, 0f40000000;", "%f", fb(1)},
	})
}
