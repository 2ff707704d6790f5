package kernels

import "github.com/nf4go/nf4/kernels/ptx"

// aluCodebook decodes codes with byte permutes (prmt) instead of the
// lane codebook's shuffles: the decode then runs on the ALU pipes, not
// the L1 data path that every shuffle takes a wavefront of. It costs
// about six instructions a code to a shuffle's two, so a gemv decodes
// one quad of each chunk this way (gemvConfigs' aluQuad), which moves an
// eighth of its shuffles to pipes that have room for them.
//
// The table is held as byte planes: planes[p][g] holds byte p of entries
// 4g…4g+3, so one prmt looks byte p up for four codes of one half of
// the table (the selector's nibbles, bit 3 cleared) and a second one in
// the other half.
type aluCodebook struct {
	planes [4][4]ptx.Reg
	signed ptx.Reg // bytes 0 and 1 0x00 and 0x80, for the half mask
}

// newALUCodebook builds the planes from the lane codebook lut (lane i
// holding entry i mod 16) with shuffles, once per thread: planes ptxas
// sees as uniform (immediates, or a shuffle from one lane) it keeps in
// uniform registers and copies into a register before every prmt.
func newALUCodebook(k *ptx.Kernel, lut ptx.Reg) *aluCodebook {
	// Entry i from lane i or i+16 (both hold it): a source lane that
	// differs across the warp, else ptxas sees a uniform value too. For
	// the same reason the lane number fills the upper half of signed,
	// which the mask's selectors (bytes 0 and 1) never read.
	lane := k.Special(ptx.LaneID)
	half := k.Op("and", ptx.B32, lane, ptx.Imm(16))
	c := &aluCodebook{signed: k.Op("or", ptx.B32, k.Shift("shl", ptx.B32, lane, ptx.Imm(16)), ptx.Imm(0x8000))}
	var e [16]ptx.Reg
	for i := range e {
		e[i] = k.Bitcast(ptx.B32, k.Shfl("idx", lut, k.Op("or", ptx.B32, half, ptx.Imm(i)), 31))
	}
	for p := range 4 {
		pick := ptx.Imm(p | (4+p)<<4) // byte p of a, byte p of b
		for g := range 4 {
			lo := k.Prmt(e[4*g], e[4*g+1], pick)
			hi := k.Prmt(e[4*g+2], e[4*g+3], pick)
			c.planes[p][g] = k.Prmt(lo, hi, ptx.Imm(0x5410))
		}
	}
	return c
}

// decode4 returns the table values of the four codes in the low 16 bits
// of q (code t in bits 4t…4t+3), exactly the values the lane codebook
// gives; the upper bits of q are ignored.
func (c *aluCodebook) decode4(k *ptx.Kernel, q ptx.Reg) [4]ptx.Reg {
	sel := k.Op("and", ptx.B32, q, ptx.Imm(0x7777))
	// A byte mask of the codes in the upper half (bit 3 set): selector
	// nibble 9 reads byte 1 (0x80) with its sign replicated, 0 byte 0.
	hb := k.Op("and", ptx.B32, q, ptx.Imm(0x8888))
	hsel := k.Op("or", ptx.B32, hb, k.Shift("shr", ptx.B32, hb, ptx.Imm(3)))
	mask := k.Prmt(c.signed, ptx.Imm(0), hsel)
	var bytes [4]ptx.Reg
	for p := range 4 {
		lo := k.Prmt(c.planes[p][0], c.planes[p][1], sel)
		hi := k.Prmt(c.planes[p][2], c.planes[p][3], sel)
		bytes[p] = k.Lop3(lo, hi, mask, 0xd8) // mask ? hi : lo, bit by bit
	}
	// bytes[p] holds byte p of the four values: transpose.
	a := k.Prmt(bytes[0], bytes[1], ptx.Imm(0x5140))
	b := k.Prmt(bytes[2], bytes[3], ptx.Imm(0x5140))
	cc := k.Prmt(bytes[0], bytes[1], ptx.Imm(0x7362))
	d := k.Prmt(bytes[2], bytes[3], ptx.Imm(0x7362))
	return [4]ptx.Reg{
		k.Prmt(a, b, ptx.Imm(0x5410)), k.Prmt(a, b, ptx.Imm(0x7632)),
		k.Prmt(cc, d, ptx.Imm(0x5410)), k.Prmt(cc, d, ptx.Imm(0x7632)),
	}
}
