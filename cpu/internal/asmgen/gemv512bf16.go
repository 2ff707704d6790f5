package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// gemv512BF16 writes the AVX-512 BF16 decode-dot kernel for m activation
// rows. Its arguments are those of gemv512, and x holds bf16 values: for
// each 64-code unit, the m rows' 64 values in decode order (the unit's
// even codes, then its odd ones), two bytes each.
//
// At each scale step the 16 table values are multiplied by the step's
// scales and rounded to bf16 (VCVTNE2PS2BF16, to nearest even) into a
// 32-entry word table: entries 0..15 for the first 32-code block of a unit,
// 16..31 for the second (the same scale twice when a block has 64 codes or
// more). A unit's 32 code bytes, widened to words, then decode with one
// VPERMW per nibble to 32 scaled bf16 weights each, bit 4 of each index
// picking the half of the table for its block; VDPBF16PS adds their
// products with x, pair by pair, to 16 float32 sums. Two weight rows go
// side by side, so that each vector of x loaded serves both (as in
// gemv512, the loads of x bound the kernel); the 16 lanes of a row's sum
// are folded to the 8 of acc at the end.
//
// The Go assembler (and avo) have no AVX512_BF16 mnemonics, so those two
// instructions are written as bytes (evexBF16) on physical registers:
// every vector register of this kernel is physical, so that no allocated
// one can land on a register the encoded instructions use unseen.
func gemv512BF16(m int) {
	name := fmt.Sprintf("gemvBF16AVX512x%d", m)
	TEXT(name, NOSPLIT, "func(codes *byte, cskip int, scales *float32, sskip int, sbytes int, sstep int, x *uint16, ubytes int, rows int, pf int, tab *[16]float32, acc *float32, rowc int)")
	Doc(fmt.Sprintf("%s is the AVX-512 BF16 decode-dot over weight rows for a batch of %d.", name, m))
	k := bf16Kernel{m: m, name: name}
	k.c = Load(Param("codes"), GP64())
	k.s = Load(Param("scales"), GP64())
	VMOVUPS(Mem{Base: Load(Param("tab"), GP64())}, zmm(bfTable))
	// low4 is 0x000f in every word; half is 0x0010 in the upper 16 words
	// (the second block's), 0 in the lower.
	low4, half, zero := zmm(bfLow4), zmm(bfHalf), zmm(bfT0)
	VPTERNLOGD(U8(0xff), low4, low4, low4)
	VPSRLW(U8(15), low4, half)
	VPSLLW(U8(4), half, half)
	VPXORD(zero, zero, zero)
	VINSERTI64X4(U8(0), zero.AsY(), half, half)
	VPSRLW(U8(12), low4, low4)
	k.pf = Load(Param("pf"), GP64())
	k.out = Load(Param("acc"), GP64())
	k.left = Load(Param("rows"), GP64())
	k.second = Load(Param("sstep"), GP64())
	SUBQ(U8(4), k.second) // offset of the second block's scale: 0 or 4
	Label(name + "_pairs")
	CMPQ(k.left, U8(2))
	JB(LabelRef(name + "_single"))
	k.rows(2)
	JMP(LabelRef(name + "_pairs"))
	Label(name + "_single")
	TESTQ(k.left, k.left)
	JZ(LabelRef(name + "_done"))
	k.rows(1)
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// The bf16 kernels' vector registers: the float32 table, the two index
// constants, two float32 temporaries, then per weight row its bf16 table
// and two decoded vectors (the low nibbles' in the widened codes'
// register); a vector of x, a fold temporary, and the accumulators from
// bfAcc on.
const (
	bfTable, bfLow4, bfHalf, bfT0, bfT1 = 0, 1, 2, 3, 4
	bfRow                               = 5 // + 3·w: table, lo, hi
	bfX, bfFold, bfAcc                  = 11, 12, 13
)

type bf16Kernel struct {
	m                           int
	name                        string
	c, s, pf, out, left, second reg.Register
}

// rows writes the loop over weight rows taken r (1 or 2) at a time; with
// r = 1 it runs until no row is left, with r = 2 it does one pair.
func (k *bf16Kernel) rows(r int) {
	m, c, s := k.m, k.c, k.s
	lbl := func(s string) string { return fmt.Sprintf("%s_r%d_%s", k.name, r, s) }
	// Chains per (weight row, activation row), within 32 registers.
	per := 2
	if r == 2 && m > 4 {
		per = 1
	}
	accReg := func(w, i, h int) int { return bfAcc + (w*m+i)*per + h%per }
	cs, ss := []reg.Register{c}, []reg.Register{s}
	x0, sEnd, gEnd := GP64(), GP64(), GP64()
	Label(lbl("row"))
	MOVQ(param("x"), x0)
	MOVQ(param("sbytes"), sEnd)
	ADDQ(s, sEnd)
	if r == 2 {
		c2, s2 := GP64(), GP64()
		MOVQ(param("rowc"), c2)
		ADDQ(c, c2)
		MOVQ(param("sskip"), s2)
		ADDQ(sEnd, s2)
		cs, ss = append(cs, c2), append(ss, s2)
	}
	for w := range r {
		for i := range m {
			for h := range per {
				a := zmm(accReg(w, i, h))
				VPXORD(a, a, a)
			}
		}
	}
	Label(lbl("step"))
	for w := range r {
		VMULPS_BCST(Mem{Base: ss[w]}, zmm(bfTable), zmm(bfT0))
		VMULPS_BCST(Mem{Base: ss[w], Index: k.second, Scale: 1}, zmm(bfTable), zmm(bfT1))
		// The low 16 words come from the second source (t0).
		vcvtne2ps2bf16(bfRow+3*w, bfT1, bfT0)
	}
	MOVQ(param("ubytes"), gEnd)
	ADDQ(c, gEnd)
	Label(lbl("unit"))
	for w := range r {
		tb, lo, hi := zmm(bfRow+3*w), zmm(bfRow+3*w+1), zmm(bfRow+3*w+2)
		PREFETCHT0(Mem{Base: cs[w], Index: k.pf, Scale: 1})
		VPMOVZXBW(Mem{Base: cs[w]}, lo)
		VPSRLW(U8(4), lo, hi)
		VPORD(zmm(bfHalf), hi, hi)
		VPERMW(tb, hi, hi)
		// lo = lo&low4 | half in one instruction (0xea: a&b | c).
		VPTERNLOGD(U8(0xea), zmm(bfHalf), zmm(bfLow4), lo)
		VPERMW(tb, lo, lo)
	}
	for i := range m {
		for h := range 2 {
			VMOVDQU32(Mem{Base: x0, Disp: 128*i + 64*h}, zmm(bfX))
			for w := range r {
				vdpbf16ps(accReg(w, i, h), bfRow+3*w+1+h, bfX)
			}
		}
	}
	for w := range r {
		ADDQ(U8(32), cs[w])
	}
	ADDQ(U32(128*m), x0)
	CMPQ(c, gEnd)
	JB(LabelRef(lbl("unit")))
	for w := range r {
		ADDQ(param("sstep"), ss[w])
	}
	CMPQ(s, sEnd)
	JB(LabelRef(lbl("step")))

	for w := range r {
		for i := range m {
			sum, f := zmm(accReg(w, i, 0)), zmm(bfFold)
			if per == 2 {
				VADDPS(zmm(accReg(w, i, 1)), sum, sum)
			}
			addFolded(sum, f, Mem{Base: k.out, Disp: 32 * (w*m + i)})
		}
	}
	ADDQ(U32(32*m*r), k.out)
	if r == 2 {
		// Past the second row's run, then its skip.
		MOVQ(cs[1], c)
		MOVQ(ss[1], s)
	}
	ADDQ(param("cskip"), c)
	ADDQ(param("sskip"), s)
	if r == 2 {
		SUBQ(U8(2), k.left)
		return
	}
	DECQ(k.left)
	JNZ(LabelRef(lbl("row")))
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
// rounded to nearest even, then src1's (denormals to zero).
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
