package sass

import (
	"os"
	"strings"
	"testing"
)

// The fixture is CUDA 12.4's cuobjdump -sass of nf4_gemv_m1_b64 for sm_90
// (encodings stripped); the counts below are the ones
// gpu-kernel-analysis.md reports for its main loop.
func TestMainLoopOfGemv(t *testing.T) {
	b, err := os.ReadFile("testdata/nf4_gemv_m1_b64.sm_90.sass")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Find(fs, "nf4_gemv_m1_b64")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Instrs) < 300 || f.Instrs[0].Addr != 0 {
		t.Fatalf("%d instructions", len(f.Instrs))
	}
	loops := f.Loops()
	if len(loops) != 1 {
		t.Fatalf("%d loops (the trailing branch-to-self is not one): %+v", len(loops), loops)
	}
	l, ok := f.MainLoop()
	if !ok || l.Start != 0x150 || l.End != 0x1400 || len(l.Instrs) != 300 {
		t.Fatalf("main loop %#x..%#x with %d instructions", l.Start, l.End, len(l.Instrs))
	}
	m := Count(l.Instrs)
	want := map[string]int{"FFMA": 66, "SHFL.IDX": 64, "SGXT.U32": 64, "SHF.R.U32.HI": 56,
		"LDG.E.128.CONSTANT": 18, "LDG.E.CONSTANT": 2, "LDC.64": 3, "VIMNMX.U32": 3, "BRA": 1}
	for op, n := range want {
		if m.ByOp[op] != n {
			t.Errorf("%s: %d, want %d", op, m.ByOp[op], n)
		}
	}
	if m.Total != 300 || m.ByPipe[PipeFMA] != 66 || m.ByPipe[PipeLSU] != 64+18+2+3 || m.ByPipe[PipeControl] != 1 {
		t.Errorf("pipes: %v (total %d)", m.ByPipe, m.Total)
	}
	if m.ByPipe[PipeIMAD] != 6+3+2+1 || m.ByPipe[PipeUniform] != 1 {
		t.Errorf("imad %d uniform %d", m.ByPipe[PipeIMAD], m.ByPipe[PipeUniform])
	}
	if len(m.Unknown) != 0 {
		t.Errorf("unclassified opcodes %v", m.Unknown)
	}
	if ops := m.Opcodes(); ops[0] != "FFMA" || ops[1] != "SGXT.U32" && ops[1] != "SHFL.IDX" {
		t.Errorf("opcode order %v", ops[:3])
	}
	if g := f.Instrs[7]; g.Op != "EXIT" || g.Guard != "@P0" {
		t.Errorf("guarded exit parsed as %+v", g)
	}
}

func TestParseBranchesAndErrors(t *testing.T) {
	src := `
		Function : k
        /*0000*/                   MOV R1, c[0x0][0x28] ;
        /*0010*/                   HMMA.16816.F32.BF16 R4, R8, R12, R4 ;
        /*0020*/               @!P1 BRA 0x10 ;
        /*0030*/                   BRA.DIV UR4, 0x60 ;
        /*0040*/                   HGMMA.64x128x16.F32.BF16 R24, gdesc[UR4], R24 ;
        /*0050*/                   FOO.BAR R1, R2 ;
        /*0060*/                   EXIT ;
        /*0070*/                   BRA 0x70;
`
	fs, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	in := fs[0].Instrs
	if in[2].Target != 0x10 || in[2].Guard != "@!P1" || in[3].Target != 0x60 || in[0].Target != -1 {
		t.Errorf("branch targets: %+v", in[:4])
	}
	l, ok := fs[0].MainLoop()
	if !ok || l.Start != 0x10 || len(l.Instrs) != 2 {
		t.Errorf("loop %+v", l)
	}
	m := Count(in)
	if m.TensorFMAs != 2048+64*128*16/4 {
		t.Errorf("tensor FMAs %d", m.TensorFMAs)
	}
	if len(m.Unknown) != 1 || m.Unknown[0] != "FOO" || PipeOf(in[5]) != PipeALU {
		t.Errorf("unknown opcodes %v", m.Unknown)
	}
	if _, err := Parse("no code here"); err == nil {
		t.Error("parsed text without a function")
	}
	if _, err := Parse("        /*0000*/   MOV R1, R2 ;"); err == nil || !strings.Contains(err.Error(), "before any function") {
		t.Errorf("instruction outside a function: %v", err)
	}
	if _, err := Find(fs, "nope"); err == nil {
		t.Error("found a missing function")
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/nf4_gemv_m1_b64.sm_90.sass")
	f.Add(string(b[:2000]))
	f.Add("Function : k\n /*0000*/ BRA 0x0 ;\n")
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := Parse(s)
		if err != nil {
			return
		}
		for _, fn := range fs {
			for _, l := range fn.Loops() {
				if len(l.Instrs) == 0 || l.Instrs[len(l.Instrs)-1].Addr != l.End {
					t.Fatalf("bad loop %+v", l)
				}
			}
			_ = Count(fn.Instrs)
		}
	})
}
