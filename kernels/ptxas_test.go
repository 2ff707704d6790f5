package kernels

import (
	"fmt"
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
				if reason := skipTarget(t, kn, tg, tg.String()); reason != "" {
					t.Skip(reason)
				}
				if accelOnly(t, kn) {
					t.Skipf("%s prints sm_90a code, which only CUDA 12.4's ptxas assembles (TestPtxas124AllKernels)", kn.Name())
				}
				checkAssembly(t, as, objdump, kn, tg, tg.String())
			})
		}
	}
}

// TestPtxas124AllKernels assembles every kernel with CUDA 12.4's ptxas too:
// for sm_80, sm_90, and sm_90a (the Hopper-only target of wgmma and TMA,
// from the sm_90 text), and checks the PTX stays within ISA 8.4, what 12.4
// accepts.
func TestPtxas124AllKernels(t *testing.T) {
	tools := ptxas.RequireCUDA12(t)
	for _, kn := range All() {
		for _, c := range []struct {
			tg   ptx.Target
			arch string
		}{{ptx.SM80, "sm_80"}, {ptx.SM90, "sm_90"}, {ptx.SM90, "sm_90a"}} {
			kn, c := kn, c
			t.Run(kn.Name()+"/"+c.arch, func(t *testing.T) {
				t.Parallel()
				if reason := skipTarget(t, kn, c.tg, c.arch); reason != "" {
					t.Skip(reason)
				}
				checkAssembly(t, tools.Ptxas, tools.Cuobjdump, kn, c.tg, c.arch)
			})
		}
	}
}

// skipTarget says why kernel kn is not assembled for target tg with
// -arch=arch, or "" when it is: a kernel needing a newer architecture than
// tg is not printed for it, and sm_90a code is assembled for sm_90a only.
// Such a kernel must refuse to print for tg, or the skip hides a bug.
func skipTarget(t *testing.T, kn Kernel, tg ptx.Target, arch string) string {
	t.Helper()
	if kn.MinSM() > tg.SM {
		if _, err := kn.PTX(tg); err == nil {
			t.Errorf("%s needs sm_%d but printed for %s", kn.Name(), kn.MinSM(), tg)
		}
		return fmt.Sprintf("%s needs sm_%d, not %s", kn.Name(), kn.MinSM(), tg)
	}
	if accelOnly(t, kn) && arch != "sm_90a" {
		return fmt.Sprintf("%s prints sm_90a code, assembled for sm_90a only", kn.Name())
	}
	return ""
}

// accelOnly reports whether kn's code for sm_90 is architecture-specific
// sm_90a code (wgmma, tensor copies).
func accelOnly(t *testing.T, kn Kernel) bool {
	t.Helper()
	if kn.MinSM() > 90 {
		return false
	}
	src, err := kn.PTX(ptx.SM90)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(src, "\n.target sm_90a\n")
}

// checkAssembly assembles kn's PTX for target tg with -arch=arch and holds
// it to its register budget, no spills or local memory, the SASS it must
// contain, and a PTX ISA version the assembler accepts.
func checkAssembly(t *testing.T, as, objdump string, kn Kernel, tg ptx.Target, arch string) {
	src, err := kn.PTX(tg)
	if err != nil {
		t.Fatal(err)
	}
	if v := ptxVersion(src); v == "" || v > "8.4" {
		t.Errorf("PTX .version %q: CUDA 12.4 accepts up to 8.4", v)
	}
	r, err := ptxas.Assemble(as, src, arch)
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
	for _, w := range sassWants(kn) {
		if !hasPrefixOp(mix, w) {
			t.Errorf("SASS has no %s; mix: %v", w, mix)
		}
	}
}

// ptxVersion is the module's .version, e.g. "7.8" (single-digit minors:
// the ISA numbers so far compare as strings).
func ptxVersion(src string) string {
	for _, line := range strings.Split(src, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), ".version "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// sassWants lists opcodes (prefixes) a kernel's SASS must contain.
func sassWants(k Kernel) []string {
	switch k.(type) {
	case *Gemv, *Dequantize:
		return []string{"LDG.E.128"}
	case *Quantize:
		return []string{"LDG.E.128", "SHFL.BFLY"}
	case *GemmTC:
		return []string{"HMMA.16816.F32.BF16", "LDGSTS", "LDS.128", "LDSM.16.M88.4"}
	case *GemmWG:
		return []string{"HGMMA", "UTMALDG.2D", "SYNCS.ARRIVE.TRANS64", "LDGSTS", "STS.128"}
	case *GemvTC:
		return []string{"HMMA.16816.F32.BF16", "LDG.E.128", "LDS"}
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
