package ptx_test

import (
	"strings"
	"testing"

	"github.com/nf4go/nf4/kernels/internal/ptxas"
	"github.com/nf4go/nf4/kernels/ptx"
)

// allForms uses every instruction form the builder offers, so that each one
// is checked by ptxas on every target.
func allForms() *ptx.Kernel {
	k := ptx.NewKernel("forms")
	k.MaxThreads(32)
	out := k.LoadParam(k.Param("out"))
	in := k.LoadParam(k.Param("in"))
	sh := k.SharedAddr(k.Shared("tile", 16, 1024))
	lane := k.Special(ptx.LaneID)
	_ = k.Special(ptx.NtidX)
	off := k.Shift("shl", ptx.B32, lane, ptx.Imm(4))
	src := k.Op("add", ptx.U64, in, k.MulWide(ptx.U32, lane, ptx.Imm(16)))
	dst := k.Op("add", ptx.U32, sh, off)

	k.CpAsync(ptx.Addr{Base: dst}, ptx.Addr{Base: src}, 16)
	k.CpAsync(ptx.Addr{Base: dst, Offset: 512}, ptx.Addr{Base: src}, 4)
	k.CpAsyncCommit()
	k.CpAsyncWait(0)
	k.BarSync()

	v := k.LdV("shared", ptx.U32, 4, ptx.Addr{Base: dst})
	f4 := k.LdV("global.nc", ptx.F32, 4, ptx.Addr{Base: src})
	f2 := k.LdV("global", ptx.F32, 2, ptx.Addr{Base: src, Offset: 8})
	h := k.Ld("global", ptx.U16, ptx.Addr{Base: src})
	cst := k.Ld("global.nc", ptx.U64, ptx.Addr{Base: src})
	_ = cst

	mat := k.Ldmatrix(4, false, ptx.Addr{Base: dst})
	matT := k.Ldmatrix(2, true, ptx.Addr{Base: dst})
	acc := ptx.Vec{k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0))}
	k.Mma(ptx.MmaBF16, acc, mat, matT, acc)
	k.Mma(ptx.MmaF16, acc, ptx.Vec{v[0], v[1], v[2], v[3]}, ptx.Vec{v[0], v[1]}, acc)
	tf := ptx.Vec{k.Cvt("rna", ptx.TF32, ptx.F32, f4[0]), k.Cvt("rna", ptx.TF32, ptx.F32, f4[1]), k.Cvt("rna", ptx.TF32, ptx.F32, f4[2]), k.Cvt("rna", ptx.TF32, ptx.F32, f4[3])}
	k.Mma(ptx.MmaTF32, acc, tf, ptx.Vec{tf[0], tf[1]}, acc)

	// conversions between widths and float formats
	hf := k.Cvt("rn", ptx.F16, ptx.F32, f2[0])
	bf := k.Cvt("rn", ptx.BF16, ptx.F32, f2[1])
	back := k.Op("add.rn", ptx.F32, k.Cvt("", ptx.F32, ptx.F16, hf), k.Cvt("", ptx.F32, ptx.BF16, bf))
	pk := k.CvtPack(ptx.F16x2, back, acc[0])
	pb := k.CvtPack(ptx.BF16x2, acc[1], acc[2])
	i8 := k.Cvt("", ptx.U32, ptx.U8, k.Cvt("", ptx.U8, ptx.U16, h))
	s64 := k.Cvt("", ptx.S64, ptx.S32, k.Cvt("rzi", ptx.S32, ptx.F32, acc[3]))
	u := k.Op("add", ptx.U32, k.Prmt(pk, pb, ptx.Imm(0x5410)), k.Lop3(v[0], v[1], i8, 0xE8))
	u = k.Op("xor", ptx.B32, u, k.Bfe(ptx.U32, u, ptx.Imm(3), ptx.Imm(5)))
	u = k.Op("or", ptx.B32, u, k.Cvt("", ptx.U32, ptx.S64, s64))
	f := k.Op("fma.rn", ptx.F32, acc[0], acc[1], acc[2])
	f = k.Op("min", ptx.F32, k.Op("max", ptx.F32, f, ptx.F32Imm(-1)), k.Op("abs", ptx.F32, acc[3]))
	f = k.Op("div.rn", ptx.F32, f, ptx.F32Imm(3))
	f = k.Op("sub.rn", ptx.F32, f, k.Shfl("down", f, ptx.Imm(1), 31))
	f = k.Op("mul.rn", ptx.F32, f, k.Shfl("up", f, ptx.Imm(1), 0))
	f = k.Op("add.rn", ptx.F32, f, k.Shfl("bfly", f, ptx.Imm(16), 31))
	f = k.Op("neg", ptx.F32, k.Shfl("idx", f, lane, 31))
	gt := k.Setp("gt", ptx.F32, f, ptx.F32Imm(0))
	both := k.SetpAnd("lt", ptx.U32, u, ptx.Imm(100), gt)
	f = k.Selp(ptx.F32, f, ptx.F32Imm(1), both)
	bits := k.Bitcast(ptx.B32, f)
	k.When(gt, false, func() { k.St("global", ptx.B32, ptx.Addr{Base: out}, bits) })
	k.StV("global", ptx.F32, ptx.Addr{Base: out, Offset: 16}, acc)
	k.StV("shared", ptx.U32, ptx.Addr{Base: dst}, ptx.Vec{u, u})
	k.St("global", ptx.U16, ptx.Addr{Base: out, Offset: 32}, h)
	k.Red("add", ptx.F32, ptx.Addr{Base: out, Offset: 64}, f)
	old := k.Atom("add", ptx.U32, ptx.Addr{Base: out, Offset: 68}, u)
	k.St("global", ptx.U32, ptx.Addr{Base: out, Offset: 72}, old)
	return k
}

func TestAllFormsAssemble(t *testing.T) {
	for _, tg := range []ptx.Target{ptx.SM80, ptx.SM90} {
		m := ptx.NewModule()
		m.Add(allForms())
		src, err := m.Print(tg)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range []string{"mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16", "cp.async.cg.shared.global", "cp.async.wait_group 0;", "red.global.add.f32", "@%p"} {
			if !strings.Contains(src, op) {
				t.Errorf("%s missing", op)
			}
		}
		// cvt from bf16 needs PTX ISA 7.1, above sm_80's baseline 7.0.
		if tg == ptx.SM80 && !strings.HasPrefix(src, ".version 7.1\n") {
			t.Errorf("sm_80 module with bf16 conversions not raised to ISA 7.1")
		}
		as, _ := ptxas.Require(t)
		if _, err := ptxas.Assemble(as, src, tg.String()); err != nil {
			t.Fatalf("%s: %v\n%s", tg, err, src)
		}
	}
}
