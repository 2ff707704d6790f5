package asmsim

// known lists the mnemonics the simulator executes: exactly those of the
// cpu package's kernels, plus the register moves its tests use.
var known = func() map[string]bool {
	m := map[string]bool{}
	for _, op := range []string{
		"RET", "JMP", "JB", "JAE", "JZ", "JNZ",
		"MOVQ", "MOVL", "ADDQ", "SUBQ", "CMPQ", "XORQ", "TESTQ", "SHLQ", "SHRQ", "LEAQ", "INCQ", "DECQ",
		"VZEROUPPER", "SFENCE", "PREFETCHT0",
		"VMOVUPS", "VMOVAPS", "VMOVDQU", "VMOVDQU32", "VMOVDQA32", "VMOVNTPS", "VMOVSS", "VMOVD",
		"VBROADCASTSS", "VPBROADCASTD",
		"VADDPS", "VMULPS", "VDIVPS", "VMAXPS", "VFMADD231PS",
		"VPADDD", "VPSUBD", "VPMAXUD", "VPCMPGTD",
		"VPXORD", "VXORPS", "VPAND", "VPANDD", "VANDPS", "VPOR", "VPORD",
		"VPERMPS", "VPERMI2PS", "VSHUFF64X2", "VSHUFI64X2", "VPSHUFB",
		"VPSRLD", "VPSRLW", "VPSRLQ", "VPSLLD", "VPMOVZXBD", "VPMOVSXBD",
		"VPUNPCKLBW", "VPUNPCKHBW", "VPUNPCKLWD", "VPUNPCKHWD", "VUNPCKLPS", "VUNPCKHPS",
		"VCMPPS", "VPCMPUD", "VBLENDPS", "VBLENDVPS", "VBLENDMPS", "VPTEST",
		"VPSHUFD", "VPERMILPS", "VPERM2F128", "VEXTRACTI128", "VEXTRACTF128", "VPMOVQB",
		"KMOVW", "KORTESTW",
		"VPTERNLOGD", "VPERMW", "VPMOVZXBW", "VPSLLW", "VINSERTI64X4",
		"VDPBF16PS", "VCVTNE2PS2BF16", // decoded from BYTE runs
		"LDTILECFG", "TILERELEASE", "TILEZERO", "TILELOADD", "TILESTORED", "TDPBF16PS", // AMX, from BYTE runs
	} {
		m[op] = true
	}
	return m
}()

// Known reports whether the simulator executes mnemonic op.
func Known(op string) bool { return known[op] }
