package kernels

import (
	"strings"
	"testing"

	"github.com/nf4go/nf4/kernels/internal/ptxas"
	"github.com/nf4go/nf4/kernels/ptx"
)

// checkTargets are the architectures every kernel is assembled for.
var checkTargets = []ptx.Target{ptx.SM80, ptx.SM90}

func TestPtxasAllKernels(t *testing.T) {
	as, objdump := ptxas.Require(t)
	for _, kn := range All() {
		for _, tg := range checkTargets {
			kn, tg := kn, tg
			t.Run(kn.Name()+"/"+tg.String(), func(t *testing.T) {
				t.Parallel()
				src, err := kn.PTX(tg)
				if err != nil {
					t.Fatal(err)
				}
				r, err := ptxas.Assemble(as, src, tg.String())
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Warnings) > 0 {
					t.Errorf("ptxas warnings:\n%s", strings.Join(r.Warnings, "\n"))
				}
				f := r.Functions[kn.Name()]
				if f == nil {
					t.Fatalf("ptxas did not report %s:\n%s", kn.Name(), r.Log)
				}
				if f.SpillStores != 0 || f.SpillLoads != 0 || f.StackFrame != 0 {
					t.Errorf("spills %d/%d bytes, stack frame %d bytes", f.SpillStores, f.SpillLoads, f.StackFrame)
				}
				if f.Registers > kn.RegBudget() {
					t.Errorf("%d registers, budget %d", f.Registers, kn.RegBudget())
				}
				sass, err := ptxas.SASS(objdump, r.Cubin)
				if err != nil {
					t.Fatal(err)
				}
				mix := ptxas.Mix(sass)
				if len(mix) == 0 {
					t.Fatalf("no SASS parsed:\n%s", sass)
				}
				for op := range mix {
					if strings.HasPrefix(op, "LDL") || strings.HasPrefix(op, "STL") {
						t.Errorf("local memory access %s", op)
					}
				}
				want := sassWants(kn)
				for _, w := range want {
					if !hasPrefixOp(mix, w) {
						t.Errorf("SASS has no %s; mix: %v", w, mix)
					}
				}
			})
		}
	}
}

// sassWants lists opcodes (prefixes) a kernel's SASS must contain.
func sassWants(k Kernel) []string {
	switch k.(type) {
	case *Gemv, *Dequantize:
		return []string{"LDG.E.128"}
	case *Quantize:
		return []string{"LDG.E.128", "SHFL.BFLY"}
	case *GemmTC:
		return []string{"HMMA.16816.F32.BF16", "LDGSTS", "LDS.128"}
	case *Gemm:
		return []string{"LDS.128", "FFMA"}
	}
	return nil
}

func hasPrefixOp(mix map[string]int, p string) bool {
	for op := range mix {
		if op == p || strings.HasPrefix(op, p+".") {
			return true
		}
	}
	return false
}
