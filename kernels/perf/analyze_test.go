package perf

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/internal/ptxas"
	"github.com/nf4go/nf4/kernels/internal/sass"
	"github.com/nf4go/nf4/kernels/ptx"
)

// rawKernel is a hand-written PTX kernel for end-to-end checks of the
// model. Its parameters use the names arguments() sizes: x [M×K] f32 in,
// y [M×N] f32 out.
type rawKernel struct {
	name, body string
	grid       func(s kernels.Shape) int // blocks of 256 threads
}

func (r rawKernel) Name() string     { return r.name }
func (r rawKernel) Params() []string { return []string{"x", "y"} }
func (r rawKernel) MinSM() int       { return 80 }
func (r rawKernel) RegBudget() int   { return 255 }
func (r rawKernel) Launch(s kernels.Shape) (kernels.Launch, error) {
	return kernels.Launch{Grid: [3]int{r.grid(s), 1, 1}, Block: [3]int{256, 1, 1}}, nil
}
func (r rawKernel) PTX(t ptx.Target) (string, error) {
	return fmt.Sprintf(".version 7.8\n.target %s\n.address_size 64\n\n.visible .entry %s(.param .u64 x, .param .u64 y)\n{\n"+
		"\t.reg .pred %%p<4>;\n\t.reg .b32 %%r<32>;\n\t.reg .f32 %%f<32>;\n\t.reg .b64 %%rd<16>;\n"+
		"\t.shared .align 16 .b8 sm[8192];\n"+
		"\tld.param.u64 %%rd1, [x];\n\tld.param.u64 %%rd2, [y];\n\tmov.u32 %%r1, %%tid.x;\n\tmov.u32 %%r2, %%ctaid.x;\n"+
		"\tmad.lo.u32 %%r3, %%r2, 256, %%r1;\n\tmul.wide.u32 %%rd3, %%r3, 16;\n\tadd.u64 %%rd4, %%rd1, %%rd3;\n\tadd.u64 %%rd5, %%rd2, %%rd3;\n"+
		"%s\n\tret;\n}\n", t, r.name, r.body), nil
}

// copyKernel moves 16 bytes per thread from x to y.
var copyKernel = rawKernel{name: "copy16", grid: func(s kernels.Shape) int { return s.M * s.K / 4 / 256 },
	body: "\tld.global.nc.v4.f32 {%f1, %f2, %f3, %f4}, [%rd4];\n\tst.global.v4.f32 [%rd5], {%f1, %f2, %f3, %f4};"}

// fmaKernel runs 8 independent FMA chains for 4096 trips, then stores.
func fmaKernel() rawKernel {
	var b strings.Builder
	b.WriteString("\tld.global.nc.f32 %f1, [%rd4];\n")
	for i := 2; i <= 9; i++ {
		fmt.Fprintf(&b, "\tadd.f32 %%f%d, %%f1, 0f3F80%02X00;\n", i, i)
	}
	b.WriteString("\tmov.u32 %r4, 0;\nLOOP:\n")
	for i := 2; i <= 9; i++ {
		fmt.Fprintf(&b, "\tfma.rn.f32 %%f%d, %%f%d, 0f3F7FFFF0, 0f3C000000;\n", i, i)
	}
	b.WriteString("\tadd.u32 %r4, %r4, 1;\n\tsetp.lt.u32 %p1, %r4, 4096;\n\t@%p1 bra LOOP;\n")
	b.WriteString("\tadd.f32 %f10, %f2, %f3;\n\tadd.f32 %f11, %f4, %f5;\n\tadd.f32 %f12, %f6, %f7;\n\tadd.f32 %f13, %f8, %f9;\n")
	b.WriteString("\tadd.f32 %f14, %f10, %f11;\n\tadd.f32 %f15, %f12, %f13;\n\tadd.f32 %f16, %f14, %f15;\n\tst.global.f32 [%rd5], %f16;")
	return rawKernel{name: "fma8", grid: func(s kernels.Shape) int { return s.M * s.K / 4 / 256 }, body: b.String()}
}

// sharedKernel reads shared memory at a stride of `stride` bytes per lane,
// 64 times per thread, after filling it.
func sharedKernel(name string, stride int) rawKernel {
	var b strings.Builder
	b.WriteString("\tmov.u32 %r10, sm;\n\tshl.b32 %r11, %r1, 4;\n\tadd.u32 %r12, %r10, %r11;\n")
	b.WriteString("\tmov.f32 %f1, 0f3F800000;\n\tst.shared.v4.f32 [%r12], {%f1, %f1, %f1, %f1};\n")
	b.WriteString("\tadd.u32 %r13, %r12, 4096;\n\tst.shared.v4.f32 [%r13], {%f1, %f1, %f1, %f1};\n\tbar.sync 0;\n")
	fmt.Fprintf(&b, "\tand.b32 %%r14, %%r1, 31;\n\tmul.lo.u32 %%r15, %%r14, %d;\n\tadd.u32 %%r16, %%r10, %%r15;\n", stride)
	b.WriteString("\tmov.f32 %f2, 0f00000000;\n\tmov.u32 %r4, 0;\nLOOP:\n")
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&b, "\tld.shared.f32 %%f%d, [%%r16+%d];\n\tadd.f32 %%f2, %%f2, %%f%d;\n", 3+i, 4*i, 3+i)
	}
	b.WriteString("\tadd.u32 %r4, %r4, 1;\n\tsetp.lt.u32 %p1, %r4, 64;\n\t@%p1 bra LOOP;\n\tst.global.f32 [%rd5], %f2;")
	return rawKernel{name: name, grid: func(s kernels.Shape) int { return s.M * s.K / 4 / 256 }, body: b.String()}
}

func TestAnalyzeStreamingCopy(t *testing.T) {
	ptxas.RequireCUDA12(t)
	d := H200()
	s := kernels.Shape{M: 1 << 10, N: 1 << 16, K: 1 << 16} // 256 MiB each way
	r, err := Analyze(copyKernel, s, d)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Prediction
	want := float64(2<<28) / d.CopyBandwidth.V
	if p.Binding != "DRAM" || math.Abs(p.Seconds/want-1) > 1e-9 || p.Fraction != 1 {
		t.Errorf("copy: %s %.4g s (want DRAM %.4g s), %.3f of %s; bounds %+v", p.Binding, p.Seconds, want, p.Fraction, p.Limit, p.Bounds)
	}
	if g := r.Global; g.SectorsPerRequest() != 16 || g.WavefrontsPerRequest() != 4 {
		t.Errorf("16-byte coalesced accesses: %.3g sectors, %.3g wavefronts per request", g.SectorsPerRequest(), g.WavefrontsPerRequest())
	}
}

func TestAnalyzeIndependentFMAs(t *testing.T) {
	ptxas.RequireCUDA12(t)
	d := H100()
	s := kernels.Shape{M: 1, N: 4 * 256 * 528, K: 4 * 256 * 528} // 528 blocks: 4 per SM
	r, err := Analyze(fmaKernel(), s, d)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Prediction
	// 8 warps × 4096 trips × 8 FFMA per block, 4 blocks on each SM, at 4
	// FFMA per clock: the FMA pipe, or issue just above it (the loop's
	// own 2–3 instructions per trip, fewer if ptxas unrolled it).
	ffma := 8.0 * 4096 * 8
	fmaTime := 4 * ffma / d.FMARate.V / d.ClockHz.V
	if got := p.Bound("fma pipe"); math.Abs(got/fmaTime-1) > 0.01 {
		t.Errorf("fma pipe bound %.4g s, want %.4g s (%d FFMA in the loop, unroll %d)", got, fmaTime, r.LoopMix.ByPipe[sass.PipeFMA], r.LoopUnroll)
	}
	if (p.Binding != "fma pipe" && p.Binding != "issue") || p.Seconds > 1.4*fmaTime {
		t.Errorf("FMA kernel: %s %.4g s, FMA pipe %.4g s", p.Binding, p.Seconds, fmaTime)
	}
}

func TestAnalyzeBankConflict(t *testing.T) {
	ptxas.RequireCUDA12(t)
	d := H200()
	s := kernels.Shape{M: 1, N: 4 * 256 * 1056, K: 4 * 256 * 1056}
	free, err := Analyze(sharedKernel("lds_free", 4), s, d)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := Analyze(sharedKernel("lds_8way", 32), s, d)
	if err != nil {
		t.Fatal(err)
	}
	warps := int64(8 * 1056)
	if free.Shared.BankConflicts() != 0 || conf.Shared.BankConflicts() != 7*512*warps {
		t.Errorf("bank conflicts: %d without, %d with the 8-way stride (want 0 and %d)", free.Shared.BankConflicts(), conf.Shared.BankConflicts(), 7*512*warps)
	}
	loads := func(r *Report) float64 { return r.Workload.SharedWavefronts }
	// per warp: 512 loads at 1 or 8 wavefronts, plus 2 fill stores at 4
	if lf, lc := loads(free), loads(conf); math.Abs(lc/lf-(512*8+8)/(512.0+8)) > 1e-9 {
		t.Errorf("shared wavefronts %g vs %g", lf, lc)
	}
	pf, pc := free.Prediction, conf.Prediction
	if pc.Binding != "L1/shared data path" {
		t.Errorf("8-way conflicted kernel bound by %s", pc.Binding)
	}
	// The data path also carries the final global store (4 wavefronts per
	// warp at a 16-byte stride), so a little under 8×.
	if r := pc.Bound("L1/shared data path") / pf.Bound("L1/shared data path"); r < 7.8 || r > 8 {
		t.Errorf("shared path %g× slower with the 8-way conflict", r)
	}
}

// The shipped GEMV against its design (kernels/gemv.go), counted from CUDA
// 12.4's SASS: per main-loop trip a lane decodes 32 weights of each of the
// block's 16 rows, 28 of them with one SHFL.IDX each and the last quad of
// four with byte permutes (aluCodebook), one FFMA per weight; the code
// loads skip L1, and the x loads, shared by the 16 rows, are
// conflict-free. The static analysis (shared/reference/gpu-kernel-analysis.md)
// found the kernel before it bound by lane-strided x loads at 32
// wavefronts each; with every code on a shuffle it was then bound by the
// shuffles' L1 data path at 85 %, which the permutes move to the ALUs.
func TestAnalyzeGemvDesign(t *testing.T) {
	ptxas.RequireCUDA12(t)
	g, _ := kernels.NewGemv(1, 64, false)
	r, err := Analyze(g, kernels.Shape{M: 1, N: 4096, K: 4096, BlockSize: 64}, H200())
	if err != nil {
		t.Fatal(err)
	}
	m := r.LoopMix
	if m.ByOp["SHFL.IDX"] != 448 || m.ByOp["FFMA"] != 528 || m.ByOp["LDG.E.NA.128.CONSTANT"] != 16 || m.ByOp["LDG.E.128.CONSTANT"] != 8 {
		t.Errorf("main loop: %d instructions, %d SHFL.IDX, %d FFMA, %d code and %d x loads", r.LoopInstrs,
			m.ByOp["SHFL.IDX"], m.ByOp["FFMA"], m.ByOp["LDG.E.NA.128.CONSTANT"], m.ByOp["LDG.E.128.CONSTANT"])
	}
	// The codebook's byte planes stay in registers: ptxas copying them
	// from uniform registers before each PRMT would show as IMAD.U32.
	if n := m.ByOp["IMAD.U32"]; n > 0 {
		t.Errorf("main loop: %d IMAD.U32 (the planes copied in from uniform registers)", n)
	}
	if r.InstrsPerWeight > 4.25 {
		t.Errorf("%.3g instructions per weight, want ≤ 4.25", r.InstrsPerWeight)
	}
	for _, l := range r.MainLoads {
		if l.WavefrontsPerRequest() > 4 {
			t.Errorf("%q: %.3g wavefronts per request, want ≤ 4 (conflict-free)", l.Text, l.WavefrontsPerRequest())
		}
	}
	if n := r.BankConflicts(); n != 0 {
		t.Errorf("%d bank conflicts", n)
	}
	p := r.Prediction
	if b := p.Bound("DRAM"); b < 2.1e-6 || b > 2.3e-6 {
		t.Errorf("DRAM bound %.3g µs, want 2.1–2.3 (9.47 MB at 4.3 TB/s)", b*1e6)
	}
	// Issue and the data path now balance, both above DRAM.
	if l1, issue := p.Bound("L1/shared data path"), p.Bound("issue"); l1 > 1.05*issue || issue > 1.05*l1 {
		t.Errorf("data path %.3g µs, issue %.3g µs: not balanced within 5%%", l1*1e6, issue*1e6)
	}
	if p.Fraction < 0.89 {
		t.Errorf("bound by %s at %.1f%% of copy bandwidth, want ≥ 89%%", p.Binding, 100*p.Fraction)
	}
}

func TestPTXTarget(t *testing.T) {
	for src, want := range map[string]string{
		".version 8.0\n.target sm_90a\n.address_size 64\n":   "sm_90a",
		".version 7.8\n.target sm_80, texmode_independent\n": "sm_80",
		".version 7.8\n": "sm_90",
	} {
		if got := ptxTarget(src, "sm_90"); got != want {
			t.Errorf("%q: %s, want %s", src, got, want)
		}
	}
}
