package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// gemv512BF16 writes the AVX-512 BF16 decode-dot kernel for m activation
// rows. Its arguments are those of gemv512 without rowc, and x holds bf16
// values: for each 64-code unit, the m rows' 64 values in decode order
// (group 0's even codes, its odd codes, then group 1's), two bytes each.
//
// Each group decodes to two float32 vectors, scaled by the group's scale,
// which VCVTNE2PS2BF16 rounds (to nearest even) into one vector of 32 bf16
// values in that same order; VDPBF16PS then adds the products of pairs of
// them with x to 16 float32 sums, one chain per group and activation row.
// One weight row goes at a time; the 16 lanes of a row's sum are folded to
// the 8 of acc at the end.
//
// The Go assembler (and avo) have no AVX512_BF16 mnemonics, so those two
// instructions are written as bytes (evexBF16) on physical registers:
// every vector register of this kernel is physical, so that no allocated
// one can land on a register the encoded instructions use unseen.
func gemv512BF16(m int) {
	name := fmt.Sprintf("gemvBF16AVX512x%d", m)
	TEXT(name, NOSPLIT, "func(codes *byte, cskip int, scales *float32, sskip int, sbytes int, sstep int, x *uint16, ubytes int, rows int, pf int, tab *[16]float32, acc *float32)")
	Doc(fmt.Sprintf("%s is the AVX-512 BF16 decode-dot over weight rows for a batch of %d.", name, m))
	const cb, idx, even, odd, wbf, xv, fold = 0, 1, 2, 3, 4, 5, 6
	accReg := func(i, g int) int { return 8 + 2*i + g }
	c := Load(Param("codes"), GP64())
	s := Load(Param("scales"), GP64())
	VMOVUPS(Mem{Base: Load(Param("tab"), GP64())}, zmm(cb))
	pf := Load(Param("pf"), GP64())
	out := Load(Param("acc"), GP64())
	left := Load(Param("rows"), GP64())
	second := Load(Param("sstep"), GP64())
	SUBQ(U8(4), second) // offset of group 1's scale: 0 or 4
	x0, sEnd, gEnd := GP64(), GP64(), GP64()

	Label(name + "_row")
	MOVQ(param("x"), x0)
	MOVQ(param("sbytes"), sEnd)
	ADDQ(s, sEnd)
	for i := range m {
		for g := range 2 {
			a := zmm(accReg(i, g))
			VPXORD(a, a, a)
		}
	}
	Label(name + "_step")
	MOVQ(param("ubytes"), gEnd)
	ADDQ(c, gEnd)
	Label(name + "_unit")
	PREFETCHT0(Mem{Base: c, Index: pf, Scale: 1})
	for g := range 2 {
		sc := Mem{Base: s}
		if g == 1 {
			sc = Mem{Base: s, Index: second, Scale: 1}
		}
		VPMOVZXBD(Mem{Base: c, Disp: 16 * g}, zmm(idx))
		VPERMPS(zmm(cb), zmm(idx), zmm(even))
		VPSRLD(U8(4), zmm(idx), zmm(idx))
		VPERMPS(zmm(cb), zmm(idx), zmm(odd))
		VMULPS_BCST(sc, zmm(even), zmm(even))
		VMULPS_BCST(sc, zmm(odd), zmm(odd))
		// The low 16 bf16 values come from the second source (even).
		vcvtne2ps2bf16(wbf, odd, even)
		for i := range m {
			VMOVDQU32(Mem{Base: x0, Disp: 128*i + 64*g}, zmm(xv))
			vdpbf16ps(accReg(i, g), wbf, xv)
		}
	}
	ADDQ(U8(32), c)
	ADDQ(U32(128*m), x0)
	CMPQ(c, gEnd)
	JB(LabelRef(name + "_unit"))
	ADDQ(param("sstep"), s)
	CMPQ(s, sEnd)
	JB(LabelRef(name + "_step"))

	for i := range m {
		sum, f := zmm(accReg(i, 0)), zmm(fold)
		VADDPS(zmm(accReg(i, 1)), sum, sum)
		VSHUFF64X2(U8(0xee), sum, sum, f)
		VADDPS(sum, f, f)
		o := Mem{Base: out, Disp: 32 * i}
		VADDPS(o, f.AsY(), f.AsY())
		VMOVUPS(f.AsY(), o)
	}
	ADDQ(U32(32*m), out)
	ADDQ(param("cskip"), c)
	ADDQ(param("sskip"), s)
	DECQ(left)
	JNZ(LabelRef(name + "_row"))
	VZEROUPPER()
	RET()
}

var zmmRegs = [...]reg.VecPhysical{
	reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
	reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
	reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
	reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31,
}

func zmm(n int) reg.VecPhysical { return zmmRegs[n] }

// vdpbf16ps writes VDPBF16PS zmm(dst), zmm(src1), zmm(src2) (Intel
// operand order): dst[i] += src1[2i]·src2[2i] + src1[2i+1]·src2[2i+1] over
// bf16 pairs, in float32.
func vdpbf16ps(dst, src1, src2 int) {
	emit(fmt.Sprintf("VDPBF16PS Z%d, Z%d, Z%d", src2, src1, dst), evexBF16(0x2, 0x52, dst, src1, src2))
}

// vcvtne2ps2bf16 writes VCVTNE2PS2BF16 zmm(dst), zmm(src1), zmm(src2)
// (Intel operand order): dst's 32 bf16 values are src2's 16 float32 values
// rounded to nearest even, then src1's.
func vcvtne2ps2bf16(dst, src1, src2 int) {
	emit(fmt.Sprintf("VCVTNE2PS2BF16 Z%d, Z%d, Z%d", src2, src1, dst), evexBF16(0x3, 0x72, dst, src1, src2))
}

// evexBF16 encodes a 512-bit, unmasked EVEX instruction of map 0F38 with
// W0, prefix pp (2 = F3, 3 = F2) and opcode op on three zmm registers:
// dst in ModRM.reg, src1 in EVEX.vvvv, src2 in ModRM.rm. Register bits 3
// and 4 go inverted into R/R' (dst), vvvv/V' (src1) and B/X (src2).
func evexBF16(pp, op byte, dst, src1, src2 int) [6]byte {
	inv := func(r, bit int) byte {
		if r>>bit&1 == 0 {
			return 1
		}
		return 0
	}
	p0 := inv(dst, 3)<<7 | inv(src2, 4)<<6 | inv(src2, 3)<<5 | inv(dst, 4)<<4 | 0x2
	p1 := byte(^src1&15)<<3 | 0x4 | pp
	p2 := byte(0x40) | inv(src1, 4)<<3
	modrm := byte(0xc0) | byte(dst&7)<<3 | byte(src2&7)
	return [6]byte{0x62, p0, p1, p2, op, modrm}
}

// emit writes an encoded instruction as BYTE directives, with its Go
// assembler form in a comment.
func emit(text string, b [6]byte) {
	Comment(text)
	for _, v := range b {
		Instruction(&ir.Instruction{Opcode: "BYTE", Operands: []Op{U8(v)}})
	}
}
