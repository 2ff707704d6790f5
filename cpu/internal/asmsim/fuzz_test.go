package asmsim

import (
	"strings"
	"testing"
)

// FuzzParseRun: any text either fails to parse or runs (each function, on
// unmapped arguments, under a small instruction limit) to a RET or an
// error, never a panic.
func FuzzParseRun(f *testing.F) {
	f.Add(faultSrc)
	f.Add("TEXT ·f(SB), NOSPLIT, $0-16\n\tMOVQ a+0(FP), AX\n\tVPERMI2PS Z1, Z2, K1, Z3\n\tVMOVUPS Z3, 8(AX)(BX*8)\n\tRET\n")
	f.Add("TEXT ·f(SB), NOSPLIT, $0-8\nl:\n\tVPCMPUD $0x09, (AX), Z2, K1\n\tKORTESTW K1, K2\n\tJNZ l\n\tVPMOVQB Z1, X2\n\tRET\nDATA d<>+0(SB)/4, $1\nGLOBL d<>(SB), RODATA, $8\n")
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse("f.s", src)
		if err != nil {
			return
		}
		for name := range p.Funcs {
			m := NewMachine(p)
			m.Limit = 1000
			args := make([]uint64, p.Funcs[name].ArgSize/8)
			for i := range args {
				args[i] = uint64(i) * 8
			}
			if _, err := m.Call(name, args...); err != nil && !strings.Contains(err.Error(), "f.s") && !strings.Contains(err.Error(), "asmsim") {
				t.Fatalf("error without a location: %v", err)
			}
		}
	})
}
