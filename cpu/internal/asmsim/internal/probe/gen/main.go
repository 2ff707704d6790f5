// Command gen writes the simulator's one-instruction probes: the assembly
// (probe_amd64.s), its Go declarations (probe_amd64.go) and the test's
// table of them (../../probes_amd64_test.go). Run by go generate in
// package probe.
package main

import (
	"fmt"
	"log"
	"os"
	"strings"
)

// vector is a probe of one vector instruction (body, with NAME standing
// for the probe's name in labels) at width w ("Y" or "Z").
type vector struct {
	name, w, need string
	floats        bool
	body          []string
}

// scalar is a probe of one general-register instruction on CX (LBL stands
// for a label unique to each of its four runs).
type scalar struct {
	name string
	body []string
}

func vectors() []vector {
	var v []vector
	add := func(name, w, need string, floats bool, body ...string) {
		v = append(v, vector{name, w, need, floats, body})
	}
	const fl, in = true, false
	for _, op := range []string{"VADDPS", "VMULPS", "VDIVPS", "VMAXPS", "VFMADD231PS"} {
		add(op+"Y", "Y", "avx2", fl, op+" Y1, Y2, Y0")
	}
	add("VADDPSYM", "Y", "avx2", fl, "VADDPS (BX), Y1, Y0")
	add("VMULPSYM", "Y", "avx2", fl, "VMULPS (BX), Y1, Y0")
	add("VMAXPSYM", "Y", "avx2", fl, "VMAXPS (BX), Y1, Y0")
	add("VMAXPSX", "Y", "avx2", fl, "VMAXPS X1, X2, X0")
	add("VFMADD231PSYM", "Y", "avx2", fl, "VFMADD231PS (BX), Y1, Y0")
	for _, op := range []string{"VXORPS", "VPAND", "VPOR", "VPSUBD", "VPCMPGTD", "VPERMPS", "VPSHUFB", "VPUNPCKLBW", "VPUNPCKHBW", "VPUNPCKLWD", "VPUNPCKHWD", "VUNPCKLPS", "VUNPCKHPS"} {
		add(op+"Y", "Y", "avx2", in, op+" Y1, Y2, Y0")
	}
	add("VANDPSYM", "Y", "avx2", in, "VANDPS (BX), Y1, Y0")
	add("VPANDYM", "Y", "avx2", in, "VPAND (BX), Y1, Y0")
	add("VPCMPGTDYM", "Y", "avx2", in, "VPCMPGTD (BX), Y1, Y0")
	add("VPERMPSYM", "Y", "avx2", in, "VPERMPS (BX), Y1, Y0")
	add("VPSHUFBYM", "Y", "avx2", in, "VPSHUFB (BX), Y1, Y0")
	add("VPUNPCKLWDX", "Y", "avx2", in, "VPUNPCKLWD X1, X2, X0")
	add("VPSRLDY", "Y", "avx2", in, "VPSRLD $0x04, Y1, Y0")
	add("VPSRLWY", "Y", "avx2", in, "VPSRLW $0x03, Y1, Y0")
	add("VPSRLQY", "Y", "avx2", in, "VPSRLQ $0x1c, Y1, Y0")
	add("VPSLLDY", "Y", "avx2", in, "VPSLLD $0x07, Y1, Y0")
	add("VCMPPSY", "Y", "avx2", fl, "VCMPPS $0x1e, Y1, Y2, Y0")
	add("VCMPPSYM", "Y", "avx2", fl, "VCMPPS $0x1e, (BX), Y1, Y0")
	add("VBLENDPSY", "Y", "avx2", in, "VBLENDPS $0xa5, Y1, Y2, Y0")
	add("VBLENDVPSY", "Y", "avx2", in, "VBLENDVPS Y0, Y1, Y2, Y0")
	add("VPERMILPSX", "Y", "avx2", in, "VPERMILPS $0x1b, X1, X0")
	add("VPERM2F128Y", "Y", "avx2", in, "VPERM2F128 $0x31, Y1, Y2, Y0")
	add("VPERM2F128YZ", "Y", "avx2", in, "VPERM2F128 $0x28, Y1, Y2, Y0")
	add("VEXTRACTF128Y", "Y", "avx2", in, "VEXTRACTF128 $0x01, Y1, X0")
	add("VEXTRACTI128Y", "Y", "avx2", in, "VEXTRACTI128 $0x01, Y1, X0")
	add("VBROADCASTSSYM", "Y", "avx2", in, "VBROADCASTSS (BX), Y0")
	add("VBROADCASTSSYX", "Y", "avx2", in, "VBROADCASTSS X1, Y0")
	add("VPMOVSXBDYM", "Y", "avx2", in, "VPMOVSXBD (BX), Y0")
	add("VMOVDQUYM", "Y", "avx2", in, "VMOVDQU (BX), Y0")
	add("VMOVSSXM", "Y", "avx2", in, "VMOVSS X1, 64(DX)")
	add("VMOVDXM", "Y", "avx2", in, "VMOVD X1, 68(DX)")
	add("VPTESTY", "Y", "avx2", in, "XORQ R8, R8", "VPTEST Y1, Y2", "JNZ NAME_nz", "LEAQ 1(R8), R8",
		"NAME_nz:", "VPTEST Y1, Y2", "JAE NAME_nc", "LEAQ 2(R8), R8", "NAME_nc:", "MOVQ R8, SI")
	for _, op := range []string{"VADDPS", "VMULPS", "VDIVPS", "VFMADD231PS"} {
		add(op+"Z", "Z", "avx512", fl, op+" Z1, Z2, Z0")
	}
	add("VADDPSZM", "Z", "avx512", fl, "VADDPS (BX), Z1, Z0")
	add("VMULPSZB", "Z", "avx512", fl, "VMULPS.BCST (BX), Z1, Z0")
	add("VMAXPSZB", "Z", "avx512", fl, "VMAXPS.BCST (BX), Z1, Z0")
	add("VFMADD231PSZB", "Z", "avx512", fl, "VFMADD231PS.BCST (BX), Z1, Z0")
	for _, op := range []string{"VPXORD", "VPORD", "VPADDD", "VPMAXUD", "VPERMPS", "VPERMI2PS"} {
		add(op+"Z", "Z", "avx512", in, op+" Z1, Z2, Z0")
	}
	add("VPANDDZM", "Z", "avx512", in, "VPANDD (BX), Z1, Z0")
	add("VPADDDZK", "Z", "avx512", in, "VPADDD Z1, Z2, K1, Z0")
	add("VSHUFF64X2Z", "Z", "avx512", in, "VSHUFF64X2 $0xb4, Z1, Z2, Z0")
	add("VSHUFI64X2Z", "Z", "avx512", in, "VSHUFI64X2 $0x4e, Z1, Z2, Z0")
	add("VPSHUFDZ", "Z", "avx512", in, "VPSHUFD $0xb1, Z1, Z0")
	add("VPSRLDZ", "Z", "avx512", in, "VPSRLD $0x04, Z1, Z0")
	add("VPSRLQZ", "Z", "avx512", in, "VPSRLQ $0x1c, Z1, Z0")
	add("VPMOVZXBDZM", "Z", "avx512", in, "VPMOVZXBD (BX), Z0")
	add("VBROADCASTSSZM", "Z", "avx512", in, "VBROADCASTSS (BX), Z0")
	add("VPBROADCASTDZM", "Z", "avx512", in, "VPBROADCASTD (BX), Z0")
	add("VCMPPSZK", "Z", "avx512", fl, "VCMPPS $0x1e, Z1, Z2, K1")
	add("VPCMPUDZK", "Z", "avx512", in, "VPCMPUD $0x06, Z1, Z2, K1")
	add("VBLENDMPSZ", "Z", "avx512", in, "VBLENDMPS Z1, Z2, K1, Z0")
	add("VMOVAPSZ", "Z", "avx512", in, "VMOVAPS Z1, Z0")
	add("VMOVDQA32Z", "Z", "avx512", in, "VMOVDQA32 Z1, Z0")
	add("VMOVDQU32ZM", "Z", "avx512", in, "VMOVDQU32 (BX), Z0")
	add("VPMOVQBZM", "Z", "avx512", in, "VPMOVQB Z1, 64(DX)")
	add("VMOVNTPSZM", "Z", "avx512", in, "VMOVNTPS Z1, 64(DX)", "SFENCE")
	add("KORTESTW", "Z", "avx512", in, "XORQ R8, R8", "KORTESTW K1, K1", "JNZ NAME_nz", "LEAQ 1(R8), R8",
		"NAME_nz:", "KORTESTW K1, K1", "JAE NAME_nc", "LEAQ 2(R8), R8", "NAME_nc:", "KMOVW R8, K1")
	// VEX and EVEX writes zero the register above their width.
	add("VADDPSYUPPER", "Z", "avx512", fl, "VADDPS Y1, Y2, Y0")
	add("VEXTRACTF128UPPER", "Z", "avx512", in, "VEXTRACTF128 $0x01, Y1, X0")
	add("VZEROUPPER", "Z", "avx512", in, "VMOVUPS Z1, Z0", "VZEROUPPER")
	add("VPTERNLOGDZ", "Z", "avx512", in, "VPTERNLOGD $0xd8, Z1, Z2, Z0")
	add("VPTERNLOGDZK", "Z", "avx512", in, "VPTERNLOGD $0xff, Z1, Z2, K1, Z0")
	add("VPERMWZ", "Z", "avx512", in, "VPERMW Z1, Z2, Z0")
	add("VPMOVZXBWZM", "Z", "avx512", in, "VPMOVZXBW (BX), Z0")
	add("VPSLLWZ", "Z", "avx512", in, "VPSLLW $0x04, Z1, Z0")
	add("VPSRLWZ", "Z", "avx512", in, "VPSRLW $0x0c, Z1, Z0")
	add("VINSERTI64X4Z", "Z", "avx512", in, "VINSERTI64X4 $0x00, Y1, Z2, Z0")
	add("VINSERTI64X4ZH", "Z", "avx512", in, "VINSERTI64X4 $0x01, Y1, Z2, Z0")
	// The Go assembler lacks the BF16 instructions: the kernels write them
	// as bytes, and so do the probes.
	add("VDPBF16PSZ", "Z", "avx512bf16", fl, evex(0x02, 0x52, 1, 2, 0, "VDPBF16PS")...)
	add("VCVTNE2PS2BF16Z", "Z", "avx512bf16", fl, evex(0x03, 0x72, 1, 2, 0, "VCVTNE2PS2BF16")...)
	// AMX too, with the tiles of amxProbeConfig: z into tile 0 (one row of
	// 16 float32), x into tile 1 (one row of 16 bf16 pairs), y into all 16
	// rows of tile 2 (stride 0); tile 0 is stored to out[64:].
	amxStart := append([]string{"LEAQ amxProbeConfig<>(SB), R8"}, amx("LDTILECFG (R8)", 0xc4, 0xc2, 0x78, 0x49, 0x00)...)
	amxStart = append(amxStart, "MOVQ $0x00000040, R9", "XORQ R11, R11", "LEAQ 64(DX), R10")
	amxStart = append(amxStart, amx("TILELOADD (CX)(R9*1), TMM0", 0xc4, 0xa2, 0x7b, 0x4b, 0x04, 0x09)...)
	amxEnd := append(amx("TILESTORED TMM0, (R10)(R9*1)", 0xc4, 0x82, 0x7a, 0x4b, 0x04, 0x0a), amx("TILERELEASE", 0xc4, 0xe2, 0x78, 0x49, 0xc0)...)
	dp := append(append([]string{}, amxStart...), amx("TILELOADD (AX)(R9*1), TMM1", 0xc4, 0xa2, 0x7b, 0x4b, 0x0c, 0x08)...)
	dp = append(dp, amx("TILELOADD (BX)(R11*1), TMM2", 0xc4, 0xa2, 0x7b, 0x4b, 0x14, 0x1b)...)
	dp = append(dp, amx("TDPBF16PS TMM2, TMM1, TMM0", 0xc4, 0xe2, 0x6a, 0x5c, 0xc1)...)
	add("TDPBF16PS", "Z", "amx", fl, append(dp, amxEnd...)...)
	zero := append(append([]string{}, amxStart...), amx("TILEZERO TMM0", 0xc4, 0xe2, 0x7b, 0x49, 0xc0)...)
	add("TILEZERO", "Z", "amx", in, append(zero, amxEnd...)...)
	return v
}

// amx writes an AMX instruction, given as its encoding (checked against
// llvm-mc -show-encoding), as BYTE lines after a comment.
func amx(text string, b ...byte) []string {
	lines := []string{"// " + text}
	for _, x := range b {
		lines = append(lines, fmt.Sprintf("BYTE $0x%02x", x))
	}
	return lines
}

// amxProbeConfig is the AMX probes' tile configuration: palette 1, tiles
// 0 and 1 one row of 64 bytes, tile 2 16 rows of 64 bytes.
const amxProbeConfig = `DATA amxProbeConfig<>+0(SB)/1, $0x01
DATA amxProbeConfig<>+16(SB)/2, $0x0040
DATA amxProbeConfig<>+18(SB)/2, $0x0040
DATA amxProbeConfig<>+20(SB)/2, $0x0040
DATA amxProbeConfig<>+48(SB)/1, $0x01
DATA amxProbeConfig<>+49(SB)/1, $0x01
DATA amxProbeConfig<>+50(SB)/1, $0x10
DATA amxProbeConfig<>+56(SB)/8, $0x0000000000000000
GLOBL amxProbeConfig<>(SB), RODATA|NOPTR, $64

`

// evex encodes a 512-bit, unmasked EVEX instruction of map 0F38 (W0, prefix
// pp) on Z registers below 8: dst in ModRM.reg, src1 in vvvv, src2 in
// ModRM.rm; as BYTE lines, after a comment in Go operand order.
func evex(pp, opcode byte, src2, src1, dst byte, name string) []string {
	b := []byte{0x62, 0xf2, 0x04 | ^src1&15<<3 | pp, 0x48, opcode, 0xc0 | dst<<3 | src2}
	lines := []string{fmt.Sprintf("// %s Z%d, Z%d, Z%d", name, src2, src1, dst)}
	for _, x := range b {
		lines = append(lines, fmt.Sprintf("BYTE $0x%02x", x))
	}
	return lines
}

func scalars() []scalar {
	return []scalar{
		{"ADDQ", []string{"ADDQ BX, CX"}}, {"SUBQ", []string{"SUBQ BX, CX"}},
		{"CMPQ", []string{"CMPQ CX, BX"}}, {"CMPQI", []string{"CMPQ CX, $0x10"}},
		{"TESTQ", []string{"TESTQ BX, CX"}}, {"XORQ", []string{"XORQ BX, CX"}},
		{"SHLQ", []string{"SHLQ $0x05, CX"}}, {"SHRQ", []string{"SHRQ $0x07, CX"}},
		{"INCQ", []string{"CMPQ BX, AX", "INCQ CX"}}, {"DECQ", []string{"CMPQ BX, AX", "DECQ CX"}},
		{"LEAQ", []string{"LEAQ -8(CX)(BX*4), CX"}},
		{"PREFETCHT0", []string{"PREFETCHT0 64(CX)(BX*1)", "TESTQ CX, CX"}},
		{"JMP", []string{"JMP LBL", "INCQ CX", "LBL:", "TESTQ CX, CX"}},
		{"MOVL", []string{"MOVL $0x0000ff00, CX", "TESTQ CX, CX"}},
	}
}

func emit(b *strings.Builder, lines []string) {
	for _, l := range lines {
		if strings.HasSuffix(l, ":") || strings.HasPrefix(l, "//") {
			b.WriteString(l + "\n")
		} else {
			b.WriteString("\t" + l + "\n")
		}
	}
	b.WriteString("\n")
}

func main() {
	var s, d, t strings.Builder
	s.WriteString("// Code generated by gen/main.go. DO NOT EDIT.\n\n// Probes: each runs one instruction (of the cpu kernels' set) on\n// operands loaded from memory, so that it can run natively and in the\n// simulator on the same inputs.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	s.WriteString(amxProbeConfig)
	d.WriteString("// Code generated by gen/main.go. DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n// Package probe holds one-instruction functions, natively and as text\n// for the simulator, to test the simulator's semantics against the CPU.\npackage probe\n\n//go:generate go run ./gen\n\n")
	d.WriteString("// The vector probes load x, y and z (as Y1/Z1, Y2/Z2 and Y0/Z0) and\n// the write mask K1 from k, run one instruction, store Y0/Z0 to out[:32]\n// or out[:64] and return K1 (or a flag word); stores go to out[64:].\n")
	t.WriteString("// Code generated by internal/probe/gen. DO NOT EDIT.\n\n//go:build amd64 && !purego\n\npackage asmsim\n\nimport \"github.com/nf4go/nf4/cpu/internal/asmsim/internal/probe\"\n\n")
	t.WriteString("// vectorProbes lists every vector probe: its name, the CPU feature it\n// needs and whether its inputs are floats (else random bits).\nvar vectorProbes = []vectorProbe{\n")
	for _, p := range vectors() {
		sig := fmt.Sprintf("func %s(x, y, z *[64]byte, out *[128]byte, k uint64) uint64", p.name)
		d.WriteString(sig + "\n")
		s.WriteString("// " + sig + "\n")
		s.WriteString(fmt.Sprintf("TEXT ·%s(SB), NOSPLIT, $0-48\n", p.name))
		ins := []string{"MOVQ x+0(FP), AX", "MOVQ y+8(FP), BX", "MOVQ z+16(FP), CX", "MOVQ out+24(FP), DX", "MOVQ k+32(FP), SI"}
		if p.w == "Z" {
			ins = append(ins, "KMOVW SI, K1")
		}
		ins = append(ins, "VMOVUPS (AX), "+p.w+"1", "VMOVUPS (BX), "+p.w+"2", "VMOVUPS (CX), "+p.w+"0")
		for _, l := range p.body {
			ins = append(ins, strings.ReplaceAll(l, "NAME", p.name))
		}
		ins = append(ins, "VMOVUPS "+p.w+"0, (DX)")
		if p.w == "Z" {
			ins = append(ins, "KMOVW K1, SI")
		}
		ins = append(ins, "MOVQ SI, ret+40(FP)", "VZEROUPPER", "RET")
		emit(&s, ins)
		t.WriteString(fmt.Sprintf("\t{%q, probe.%s, %q, %v},\n", p.name, p.name, p.need, p.floats))
	}
	t.WriteString("}\n\nvar scalarProbes = []scalarProbe{\n")
	d.WriteString("\n// The scalar probes run one instruction on CX = a (b in BX) and return\n// its result and the flags as the jumps see them: 1 CF, 2 no CF, 4 ZF, 8 no ZF.\n")
	for _, p := range scalars() {
		fn := "S" + p.name
		sig := fmt.Sprintf("func %s(a, b uint64) (r, flags uint64)", fn)
		d.WriteString(sig + "\n")
		s.WriteString("// " + sig + "\n")
		s.WriteString(fmt.Sprintf("TEXT ·%s(SB), NOSPLIT, $0-32\n", fn))
		ins := []string{"MOVQ a+0(FP), AX", "MOVQ b+8(FP), BX", "XORQ R8, R8"}
		for _, c := range []struct {
			bit  int
			jump string
		}{{1, "JAE"}, {2, "JB"}, {4, "JNZ"}, {8, "JZ"}} {
			lbl := fmt.Sprintf("%s_%d", fn, c.bit)
			ins = append(ins, "MOVQ AX, CX")
			for _, l := range p.body {
				ins = append(ins, strings.ReplaceAll(l, "LBL", lbl+"j"))
			}
			ins = append(ins, c.jump+" "+lbl, fmt.Sprintf("LEAQ %d(R8), R8", c.bit), lbl+":")
		}
		ins = append(ins, "MOVQ CX, r+16(FP)", "MOVQ R8, flags+24(FP)", "RET")
		emit(&s, ins)
		t.WriteString(fmt.Sprintf("\t{%q, probe.%s},\n", fn, fn))
	}
	t.WriteString("}\n")
	for name, text := range map[string]string{"probe_amd64.s": strings.TrimSuffix(s.String(), "\n"), "probe_amd64.go": d.String(), "../../probes_amd64_test.go": t.String()} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
