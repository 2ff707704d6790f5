package ptx

import (
	"strings"
	"testing"
)

// ForWarp's loop tests go through vote.sync.any, the cap prints as
// .maxnreg, and an .L1:: eviction priority raises the PTX ISA to 7.4 on a
// target whose own ISA is older.
func TestForWarpMaxRegsAndEvictionPriority(t *testing.T) {
	k := NewKernel("warp")
	k.MaxThreads(128)
	k.MaxRegs(96)
	p := k.LoadParam(k.Param("p"))
	n := k.Cvt("", U32, U64, k.LoadParam(k.Param("n")))
	warp := k.Shift("shr", U32, k.Special(TidX), Imm(5))
	acc := k.Mov(U32, Imm(0))
	k.ForWarp(warp, n, Imm(4), func(i Reg) {
		v := k.Ld("global.nc.L1::no_allocate", U32, Addr{Base: p})
		k.OpTo(acc, "add", U32, acc, k.Shfl("bfly", v, Imm(1), 31))
	})
	k.St("global", U32, Addr{Base: p}, acc)
	s := mustPrint(t, k, SM80)
	for _, want := range []string{".version 7.4\n", ".maxntid 128, 1, 1\n.maxnreg 96\n", "ld.global.nc.L1::no_allocate.u32"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in:\n%s", want, s)
		}
	}
	if c := strings.Count(s, "vote.sync.any.pred"); c != 2 {
		t.Errorf("%d vote.sync.any.pred, want 2 (entry and back edge):\n%s", c, s)
	}
	// Without the eviction priority sm_80 stays at its own ISA, 7.0.
	k = NewKernel("plain")
	k.Ld("global.nc", U32, Addr{Base: k.LoadParam(k.Param("p"))})
	if s := mustPrint(t, k, SM80); !strings.HasPrefix(s, ".version 7.0\n") {
		t.Errorf("header:\n%s", s)
	}
	for _, r := range []int{0, 256} {
		if k := NewKernel("k"); func() error { k.MaxRegs(r); return k.Err() }() == nil {
			t.Errorf("MaxRegs(%d) accepted", r)
		}
	}
}
