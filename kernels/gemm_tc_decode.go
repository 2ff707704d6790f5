package kernels

import (
	"math"

	"github.com/nf4go/nf4/kernels/ptx"
)

// codeTable holds the 16 code values as byte tables in registers: byte b
// (1, 2, 3) of the float32 value of entry 4r+j is byte j of tab[b-1][r].
// prmt picks four table bytes per instruction, so the tensor-core GEMMs
// decode without shuffles, which share the L1/shared data path with their
// ldmatrix traffic. Byte 0 is not kept: a value rebuilt from bytes 1–3
// is within 2⁻¹⁵ of the code, far below the bf16 rounding that follows.
type codeTable struct{ tab [3][4]ptx.Reg }

func newCodeTable(k *ptx.Kernel, q QuantType) codeTable {
	var bytes [3][4]uint32
	for i, v := range q.Values() {
		bits := math.Float32bits(v)
		for b := range bytes {
			bytes[b][i/4] |= (bits >> (8 * (b + 1)) & 0xff) << (8 * (i % 4))
		}
	}
	var t codeTable
	for b := range bytes {
		for r := range bytes[b] {
			t.tab[b][r] = k.Mov(ptx.B32, ptx.Imm(int64(bytes[b][r])))
		}
	}
	return t
}

// decode8 turns the 8 codes of word (element i in bits 4i..4i+3) into 4
// bf16x2 registers of code value · s (element 2j in the low half of
// register j), the product taken in float32 and rounded once to bf16.
func (t codeTable) decode8(k *ptx.Kernel, word, s ptx.Reg) [4]ptx.Reg {
	ff := k.Mov(ptx.B32, ptx.Imm(0xff00))
	var out [4]ptx.Reg
	for h := 0; h < 2; h++ {
		src := word
		if h == 1 {
			src = k.Shift("shr", ptx.B32, word, ptx.Imm(16))
		}
		// Four selectors: the low 3 bits of each code pick a byte of
		// entries 0–7 or of entries 8–15; the mask (0xff where bit 3 is
		// set) chooses between the two.
		sel := k.Op("and", ptx.B32, src, ptx.Imm(0x7777))
		upper := k.Prmt(ff, ff, k.Op("and", ptx.B32, k.Shift("shr", ptx.B32, src, ptx.Imm(3)), ptx.Imm(0x1111)))
		const pick = 0xd8 // (a & ^c) | (b & c)
		var b [3]ptx.Reg  // byte 1, 2, 3 of the 4 elements' values
		for i, tab := range t.tab {
			b[i] = k.Lop3(k.Prmt(tab[0], tab[1], sel), k.Prmt(tab[2], tab[3], sel), upper, pick)
		}
		for p, order := range []int64{0x5140, 0x7362} {
			top := k.Prmt(b[1], b[2], ptx.Imm(order)) // bytes 2, 3 of elements 4h+2p and 4h+2p+1
			// Byte 0 repeats byte 1: noise below 2⁻¹⁵.
			lo := k.Bitcast(ptx.F32, k.Prmt(b[0], top, ptx.Imm(0x5400|int64(2*p)*0x11)))
			hi := k.Bitcast(ptx.F32, k.Prmt(b[0], top, ptx.Imm(0x7600|int64(2*p+1)*0x11)))
			out[2*h+p] = k.CvtPack(ptx.BF16x2, k.Op("mul.rn", ptx.F32, lo, s), k.Op("mul.rn", ptx.F32, hi, s))
		}
	}
	return out
}

// decodeToShared decodes the four code words at src (32 codes) into
// bf16 pairs scaled by s and stores each word's pairs at dst[w], zeros
// where keep is false (codes past the matrix).
func (t codeTable) decodeToShared(k *ptx.Kernel, src ptx.Reg, s ptx.Reg, dst [4]ptx.Reg, keep ptx.Reg) {
	words := k.LdV("shared", ptx.U32, 4, ptx.Addr{Base: src})
	zero := k.Mov(ptx.B32, ptx.Imm(0))
	for w, word := range words {
		v := t.decode8(k, word, s)
		out := make(ptx.Vec, 4)
		for i := range out {
			out[i] = k.Selp(ptx.B32, v[i], zero, keep)
		}
		k.StV("shared", ptx.B32, ptx.Addr{Base: dst[w]}, out)
	}
}
