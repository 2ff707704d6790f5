package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// amxTile writes the AMX-BF16 micro-kernel: a 32×32 block of
// c (float32, rows ldc bytes apart) = a[32, 32·ksteps] · b, plus c's
// values if acc is not 0, where a holds bf16 rows lda bytes apart and b
// is a panel of 32 columns in the pair layout TDPBF16PS reads: 16·ksteps
// rows of 128 bytes, row p holding, for each of the 32 columns, the bf16
// values of k = 2p and 2p+1.
//
// Tiles 0..3 hold the 2×2 blocks of c (16 rows × 16 float32 each), 4 and
// 5 the two 16-row halves of a's next 32 k values, 6 and 7 the two 16-
// column halves of b's next 16 rows. The tile configuration is loaded and
// released within the call, so no tile state outlives it: Go does not
// preempt an assembly function, so the goroutine stays on its thread
// throughout.
//
// The Go assembler has no AMX mnemonics: the six instructions are written
// as bytes (vexAMX) on physical registers, as is every register the
// kernel uses, so that no allocated one can land on a register the
// encoded instructions use unseen.
func amxTile(config Mem) {
	const name = "amxBF16x32x32"
	TEXT(name, NOSPLIT, "func(a *uint16, lda int, b *uint32, c *float32, ldc int, ksteps int, acc int)")
	Doc(name + " is the AMX-BF16 32×32 tile kernel: c = a·b (+ c if acc ≠ 0) over 32·ksteps values of k.")
	aLo, aHi, lda := reg.RAX, reg.RBX, reg.RCX
	b0, b1, ldb := reg.RSI, reg.R8, reg.RDI
	cLo, cHi, ldc := reg.RDX, reg.R10, reg.R9
	left := reg.R11
	LEAQ(config, left)
	ldtilecfg(left)
	Load(Param("a"), aLo)
	Load(Param("lda"), lda)
	MOVQ(lda, aHi)
	SHLQ(U8(4), aHi)
	ADDQ(aLo, aHi)
	Load(Param("b"), b0)
	LEAQ(Mem{Base: b0, Disp: 64}, b1)
	MOVQ(U32(128), ldb)
	Load(Param("c"), cLo)
	Load(Param("ldc"), ldc)
	MOVQ(ldc, cHi)
	SHLQ(U8(4), cHi)
	ADDQ(cLo, cHi)
	// c's tiles: 0 and 2 at cLo and cHi, 1 and 3 64 bytes on.
	cTiles := func(op func(t int, base, index reg.Register)) {
		op(0, cLo, ldc)
		op(2, cHi, ldc)
		ADDQ(U8(64), cLo)
		ADDQ(U8(64), cHi)
		op(1, cLo, ldc)
		op(3, cHi, ldc)
		SUBQ(U8(64), cLo)
		SUBQ(U8(64), cHi)
	}
	Load(Param("acc"), left)
	TESTQ(left, left)
	JZ(LabelRef(name + "_zero"))
	cTiles(tileloadd)
	JMP(LabelRef(name + "_start"))
	Label(name + "_zero")
	for t := range 4 {
		tilezero(t)
	}
	Label(name + "_start")
	Load(Param("ksteps"), left)
	Label(name + "_k")
	tileloadd(4, aLo, lda)
	tileloadd(5, aHi, lda)
	tileloadd(6, b0, ldb)
	tileloadd(7, b1, ldb)
	tdpbf16ps(0, 4, 6)
	tdpbf16ps(1, 4, 7)
	tdpbf16ps(2, 5, 6)
	tdpbf16ps(3, 5, 7)
	ADDQ(U8(64), aLo)
	ADDQ(U8(64), aHi)
	ADDQ(U32(16*128), b0)
	ADDQ(U32(16*128), b1)
	DECQ(left)
	JNZ(LabelRef(name + "_k"))
	cTiles(tilestored)
	tilerelease()
	RET()
}

// amxConfig is the 64-byte tile configuration the kernel loads: palette 1,
// all eight tiles 16 rows of 64 bytes.
func amxConfig() Mem {
	m := GLOBL("amxConfig", RODATA|NOPTR)
	DATA(0, U8(1))
	for t := range 8 {
		DATA(16+2*t, U16(64))
	}
	for t := range 8 {
		DATA(48+t, U8(16))
	}
	// The reserved bytes must be zero: the data is 64 bytes in all.
	DATA(56, U64(0))
	return m
}

// gprNum is a general register's encoding number (RAX 0 … R15 15).
func gprNum(r reg.Register) int {
	p, ok := r.(reg.Physical)
	if !ok {
		panic("asmgen: AMX operands must be physical registers")
	}
	return int(p.PhysicalIndex())
}

// vexAMX encodes a three-byte VEX instruction of map 0F38, W0, L0, with
// prefix pp (0 none, 2 F3, 3 F2), opcode op, ModRM modrm, vvvv (0 when
// unused) and an optional SIB byte; xBit and bBit are bit 3 of the
// SIB.index and of the ModRM.rm or SIB.base register (ModRM.reg is always
// a tile, so R is 0). The bits go inverted into VEX.R, X, B and vvvv.
func vexAMX(pp, op, modrm byte, vvvv int, xBit, bBit int, sib ...byte) []byte {
	b1 := byte(0x80) | byte(1^xBit)<<6 | byte(1^bBit)<<5 | 0x02
	b2 := byte(^vvvv&15)<<3 | pp
	return append([]byte{0xc4, b1, b2, op, modrm}, sib...)
}

// memSIB returns ModRM and SIB for (base)(index*1) with tile t in
// ModRM.reg, and the X and B bits; base may not be RBP or R13 (they need
// a displacement) nor index RSP.
func memSIB(t int, base, index reg.Register) (modrm, sib byte, x, b int) {
	bn, in := gprNum(base), gprNum(index)
	if bn&7 == 5 || in == 4 {
		panic("asmgen: unencodable AMX memory operand")
	}
	return byte(t)<<3 | 4, byte(in&7)<<3 | byte(bn&7), in >> 3, bn >> 3
}

func ldtilecfg(base reg.Register) {
	emitBytes(fmt.Sprintf("LDTILECFG (%s)", base.Asm()), ldtilecfgBytes(base))
}

func tilerelease() { emitBytes("TILERELEASE", vexAMX(0, 0x49, 0xc0, 0, 0, 0)) }

func tilezero(t int) { emitBytes(fmt.Sprintf("TILEZERO TMM%d", t), tilezeroBytes(t)) }

func tileloadd(t int, base, index reg.Register) {
	emitBytes(fmt.Sprintf("TILELOADD (%s)(%s*1), TMM%d", base.Asm(), index.Asm(), t), tileBytes(3, t, base, index))
}

func tilestored(t int, base, index reg.Register) {
	emitBytes(fmt.Sprintf("TILESTORED TMM%d, (%s)(%s*1)", t, base.Asm(), index.Asm()), tileBytes(2, t, base, index))
}

// tdpbf16ps writes TDPBF16PS tmm(dst), tmm(a), tmm(b) (Intel operand
// order): dst[m][n] += Σ_k a[m][2k]·b[k][2n] + a[m][2k+1]·b[k][2n+1].
func tdpbf16ps(dst, a, b int) {
	emitBytes(fmt.Sprintf("TDPBF16PS TMM%d, TMM%d, TMM%d", b, a, dst), tdpbf16psBytes(dst, a, b))
}

func ldtilecfgBytes(base reg.Register) []byte {
	bn := gprNum(base)
	if bn&7 == 4 || bn&7 == 5 {
		panic("asmgen: unencodable LDTILECFG operand")
	}
	return vexAMX(0, 0x49, byte(bn&7), 0, 0, bn>>3)
}

func tilezeroBytes(t int) []byte { return vexAMX(3, 0x49, 0xc0|byte(t)<<3, 0, 0, 0) }

// tileBytes encodes TILELOADD (pp 3) or TILESTORED (pp 2) of tile t at
// (base)(index*1).
func tileBytes(pp byte, t int, base, index reg.Register) []byte {
	modrm, sib, x, b := memSIB(t, base, index)
	return vexAMX(pp, 0x4b, modrm, 0, x, b, sib)
}

func tdpbf16psBytes(dst, a, b int) []byte {
	return vexAMX(2, 0x5c, 0xc0|byte(dst)<<3|byte(a), b, 0, 0)
}

// emitBytes writes an encoded instruction as BYTE directives, with its Go
// assembler form in a comment.
func emitBytes(text string, b []byte) {
	Comment(text)
	for _, v := range b {
		Instruction(&ir.Instruction{Opcode: "BYTE", Operands: []Op{U8(v)}})
	}
}
