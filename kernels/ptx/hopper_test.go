package ptx_test

import (
	"strings"
	"testing"

	"github.com/nf4go/nf4/kernels/internal/ptxas"
	"github.com/nf4go/nf4/kernels/ptx"
)

// hopperForms uses every sm_90a instruction the builder offers: a barrier
// ring fed by a tensor copy and a wgmma group reading shared memory.
func hopperForms() *ptx.Kernel {
	k := ptx.NewKernel("hopper_forms")
	k.MaxThreads(128)
	xmap := k.TensorMapAddr(k.TensorMapParam("x_map"))
	out := k.LoadParam(k.Param("out"))
	dyn := k.SharedAddr(k.ExternShared("dyn", 1024))
	bar := ptx.Addr{Base: k.SharedAddr(k.Shared("bar", 8, 8))}
	tid := k.Special(ptx.TidX)
	first := k.Setp("eq", ptx.U32, tid, ptx.Imm(0))
	k.If(first, func() {
		k.MbarrierInit(bar, ptx.Imm(1))
		k.FenceMbarrierInit()
	})
	k.BarSync()
	k.If(first, func() {
		k.MbarrierArriveExpectTx(bar, ptx.Imm(64*64*2))
		k.TensorLoad2D(ptx.Addr{Base: dyn}, xmap, ptx.Imm(0), k.Mov(ptx.U32, ptx.Imm(64)), bar)
	})
	k.MbarrierWait(bar, ptx.Imm(0))
	k.FenceProxyAsync()
	k.MbarrierArrive(bar)
	ready := k.MbarrierTryWait(bar, ptx.Imm(1))
	base := k.Cvt("", ptx.U64, ptx.U32, k.Shift("shr", ptx.U32, dyn, ptx.Imm(4)))
	desc := k.Op("or", ptx.B64, base, ptx.Imm(int64(ptx.MatrixDesc(16, 1024, ptx.DescSwizzle128))))
	acc := make(ptx.Vec, 64)
	for i := range acc {
		acc[i] = k.Mov(ptx.F32, ptx.F32Imm(0))
	}
	k.WgmmaFence()
	k.Wgmma(128, acc, desc, desc, ptx.Imm(0))
	k.Wgmma(128, acc, desc, desc, ready)
	k.WgmmaCommit()
	k.WgmmaWait(0)
	for i, r := range acc {
		k.St("global", ptx.F32, ptx.Addr{Base: out, Offset: int64(4 * i)}, r)
	}
	return k
}

func TestHopperFormsAssemble(t *testing.T) {
	m := ptx.NewModule()
	m.Add(hopperForms())
	for _, tg := range []ptx.Target{ptx.SM80, ptx.SM90} {
		if _, err := m.Print(tg); err == nil || !strings.Contains(err.Error(), "sm_90a") {
			t.Errorf("sm_90a kernel printed for %s (err %v)", tg, err)
		}
	}
	src, err := m.Print(ptx.SM90a)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		".version 8.0\n.target sm_90a\n",
		"\n.extern .shared .align 1024 .b8 dyn[];\n",
		".param .align 64 .b8 x_map[128],",
		"mbarrier.init.shared::cta.b64 [%r",
		"fence.mbarrier_init.release.cluster;",
		"mbarrier.arrive.expect_tx.shared::cta.b64 %rd",
		"cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%r",
		"mbarrier.try_wait.parity.shared::cta.b64 %p",
		"fence.proxy.async.shared::cta;",
		"wgmma.fence.sync.aligned;",
		"wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%f",
		", 0, 1, 1, 0, 0;",
		"wgmma.commit_group.sync.aligned;",
		"wgmma.wait_group.sync.aligned 0;",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("missing %q", want)
		}
	}
	tools := ptxas.RequireCUDA12(t)
	r, err := ptxas.Assemble(tools.Ptxas, src, "sm_90a")
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	sass, err := ptxas.SASS(tools.Cuobjdump, r.Cubin)
	if err != nil {
		t.Fatal(err)
	}
	mix := ptxas.Mix(sass)
	for _, op := range []string{"HGMMA.64", "UTMALDG.2D", "SYNCS.ARRIVE.TRANS64", "SYNCS.PHASECHK.TRANS64.TRYWAIT"} {
		if mix[op] == 0 {
			t.Errorf("SASS has no %s: %v", op, ptxas.Opcodes(mix))
		}
	}
}

func TestHopperFormsChecked(t *testing.T) {
	for name, build := range map[string]func(k *ptx.Kernel){
		"wgmma accumulators": func(k *ptx.Kernel) {
			d := k.LoadParam(k.Param("d"))
			k.Wgmma(64, ptx.Vec{k.Mov(ptx.F32, ptx.F32Imm(0))}, d, d, ptx.Imm(1))
		},
		"wgmma N": func(k *ptx.Kernel) {
			d := k.LoadParam(k.Param("d"))
			k.Wgmma(12, make(ptx.Vec, 6), d, d, ptx.Imm(1))
		},
		"wgmma scale-d": func(k *ptx.Kernel) {
			d := k.LoadParam(k.Param("d"))
			acc := ptx.Vec{k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0)), k.Mov(ptx.F32, ptx.F32Imm(0))}
			k.Wgmma(8, acc, d, d, ptx.Imm(2))
		},
		"tensor map param": func(k *ptx.Kernel) { k.TensorMapAddr(k.Param("p")) },
		"wait group":       func(k *ptx.Kernel) { k.WgmmaWait(8) },
		"barrier address": func(k *ptx.Kernel) {
			k.MbarrierInit(ptx.Addr{Base: k.LoadParam(k.Param("p"))}, ptx.Imm(1))
		},
		"two extern arrays": func(k *ptx.Kernel) {
			k.ExternShared("a", 16)
			k.ExternShared("b", 16)
		},
	} {
		k := ptx.NewKernel("bad")
		build(k)
		if k.Err() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMatrixDesc(t *testing.T) {
	// LBO 16 B, SBO 1024 B (eight 128-byte rows), 128-byte swizzle.
	if got, want := ptx.MatrixDesc(16, 1024, ptx.DescSwizzle128), uint64(1)<<16|uint64(64)<<32|uint64(1)<<62; got != want {
		t.Errorf("MatrixDesc = %#x, want %#x", got, want)
	}
}
