//go:build amd64 && !purego

// Package probe holds one-instruction functions, natively and as text
// for the simulator, to test the simulator's semantics against the CPU.
package probe

// The vector probes load x, y and z (as Y1/Z1, Y2/Z2 and Y0/Z0) and
// the write mask K1 from k, run one instruction, store Y0/Z0 to out[:32]
// or out[:64] and return K1 (or a flag word); stores go to out[64:].
func VADDPSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMULPSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VDIVPSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMAXPSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VFMADD231PSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VADDPSYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMULPSYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMAXPSYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMAXPSX(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VFMADD231PSYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VXORPSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPANDY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPORY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPSUBDY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPCMPGTDY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPERMPSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPSHUFBY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPUNPCKLBWY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPUNPCKHBWY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPUNPCKLWDY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPUNPCKHWDY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VUNPCKLPSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VUNPCKHPSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VANDPSYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPANDYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPCMPGTDYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPERMPSYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPSHUFBYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPUNPCKLWDX(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPSRLDY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPSRLWY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPSRLQY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPSLLDY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VCMPPSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VCMPPSYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VBLENDPSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VBLENDVPSY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPERMILPSX(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPERM2F128Y(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPERM2F128YZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VEXTRACTF128Y(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VEXTRACTI128Y(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VBROADCASTSSYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VBROADCASTSSYX(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPMOVSXBDYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMOVDQUYM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMOVSSXM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMOVDXM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPTESTY(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VADDPSZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMULPSZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VDIVPSZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VFMADD231PSZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VADDPSZM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMULPSZB(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMAXPSZB(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VFMADD231PSZB(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPXORDZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPORDZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPADDDZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPMAXUDZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPERMPSZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPERMI2PSZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPANDDZM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPADDDZK(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VSHUFF64X2Z(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VSHUFI64X2Z(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPSHUFDZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPSRLDZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPSRLQZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPMOVZXBDZM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VBROADCASTSSZM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPBROADCASTDZM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VCMPPSZK(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPCMPUDZK(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VBLENDMPSZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMOVAPSZ(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMOVDQA32Z(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMOVDQU32ZM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VPMOVQBZM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VMOVNTPSZM(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func KORTESTW(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VADDPSYUPPER(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VEXTRACTF128UPPER(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
func VZEROUPPER(x, y, z *[64]byte, out *[128]byte, k uint64) uint64

// The scalar probes run one instruction on CX = a (b in BX) and return
// its result and the flags as the jumps see them: 1 CF, 2 no CF, 4 ZF, 8 no ZF.
func SADDQ(a, b uint64) (r, flags uint64)
func SSUBQ(a, b uint64) (r, flags uint64)
func SCMPQ(a, b uint64) (r, flags uint64)
func SCMPQI(a, b uint64) (r, flags uint64)
func STESTQ(a, b uint64) (r, flags uint64)
func SXORQ(a, b uint64) (r, flags uint64)
func SSHLQ(a, b uint64) (r, flags uint64)
func SSHRQ(a, b uint64) (r, flags uint64)
func SINCQ(a, b uint64) (r, flags uint64)
func SDECQ(a, b uint64) (r, flags uint64)
func SLEAQ(a, b uint64) (r, flags uint64)
func SPREFETCHT0(a, b uint64) (r, flags uint64)
func SJMP(a, b uint64) (r, flags uint64)
func SMOVL(a, b uint64) (r, flags uint64)
