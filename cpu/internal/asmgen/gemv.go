package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// codebook holds the two halves of the NF4 table in registers. VPERMPS
// reads only the low three bits of each index, so one lookup per half and
// a blend on bit 3 give the 16-entry lookup.
type codebook struct{ lo, hi reg.VecVirtual }

func loadCodebook(tab reg.Register) codebook {
	c := codebook{YMM(), YMM()}
	VMOVUPS(Mem{Base: tab}, c.lo)
	VMOVUPS(Mem{Base: tab, Disp: 32}, c.hi)
	return c
}

// lookup sets dst to table[idx & 15] per lane; sel must hold bit 3 of the
// index in its sign bit. tmp is clobbered.
func (c codebook) lookup(idx, sel, tmp, dst reg.VecVirtual) {
	VPERMPS(c.lo, idx, dst)
	VPERMPS(c.hi, idx, tmp)
	VBLENDVPS(sel, tmp, dst, dst)
}

// decodeLow sign-extends 8 code bytes at src to dwords in idx and decodes
// their low nibbles (the even elements) into dst. Sign extension puts bit 3
// of the high nibble in each dword's sign bit, where decodeHigh's blend
// reads it without a shift.
func (c codebook) decodeLow(src Mem, idx, sel, tmp, dst reg.VecVirtual) {
	VPMOVSXBD(src, idx)
	VPSLLD(U8(28), idx, sel)
	c.lookup(idx, sel, tmp, dst)
}

// decodeHigh decodes the high nibbles (odd elements) of idx into dst.
func (c codebook) decodeHigh(idx, sel, tmp, dst reg.VecVirtual) {
	VPSRLD(U8(4), idx, sel)
	c.lookup(sel, idx, tmp, dst)
}

// gemv writes the kernel for m activation rows over rows consecutive
// weight rows (each a run of blocks; cskip code bytes and sskip scale bytes
// separate one row's run from the next): for weight row r and activation
// row i it stores Σ_blocks scale·Σ code·x into the 8 lanes at
// acc[8(r·m+i):]. x holds the activation rows (ldx apart) with each
// 16-value group stored evens first, then odds, matching the order the
// codes decode in. Each step prefetches the codes pf bytes ahead, where
// the caller will read next.
//
// Up to three rows, each block is summed unscaled and its scale applied
// once to the block sums. With more rows the running totals would not fit
// in registers, so each decoded vector is scaled once instead and shared
// by all rows.
func gemv(m int) {
	TEXT(fmt.Sprintf("gemvAVX2x%d", m), NOSPLIT, "func(codes *byte, cskip int, scales *float32, sskip int, x *float32, ldx int, blocks int, blockSize int, rows int, pf int, tab *[16]float32, acc *float32)")
	Doc(fmt.Sprintf("gemvAVX2x%d is the fused decode-dot over weight rows for a batch of %d.", m, m))
	c := Load(Param("codes"), GP64())
	s := Load(Param("scales"), GP64())
	ld := Load(Param("ldx"), GP64())
	SHLQ(U8(2), ld)
	tab := Load(Param("tab"), GP64())
	cb := loadCodebook(tab)
	pf := Load(Param("pf"), GP64())
	out := Load(Param("acc"), GP64())
	left := Load(Param("rows"), GP64())
	addr := func(name string) Mem {
		b, err := Param(name).Resolve()
		if err != nil {
			panic(err)
		}
		return b.Addr
	}
	x0, sEnd := GP64(), GP64()

	// Row i of x lives at one of two bases and an index: bases x0 and
	// x3 = x0+3·ld, with ld and ld3 = 3·ld as indexes.
	var x3, ld3 reg.Register
	if m > 3 {
		x3 = GP64()
		ld3 = GP64()
		LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	}
	row := func(i, disp int) Mem {
		switch i {
		case 0:
			return Mem{Base: x0, Disp: disp}
		case 1:
			return Mem{Base: x0, Index: ld, Scale: 1, Disp: disp}
		case 2:
			return Mem{Base: x0, Index: ld, Scale: 2, Disp: disp}
		case 3:
			return Mem{Base: x3, Disp: disp}
		case 4:
			return Mem{Base: x0, Index: ld, Scale: 4, Disp: disp}
		case 5:
			return Mem{Base: x3, Index: ld, Scale: 2, Disp: disp}
		case 6:
			return Mem{Base: x3, Index: ld3, Scale: 1, Disp: disp}
		default:
			return Mem{Base: x3, Index: ld, Scale: 4, Disp: disp}
		}
	}

	// Accumulators: one per (unrolled group, half) for m = 1, one per
	// (row, half) up to m = 4 (independent FMA chains), one per row beyond.
	perBlock := m <= 3
	unroll, split := 1, m <= 4
	if m == 1 {
		unroll = 2
	}
	nacc := m * unroll
	if split {
		nacc *= 2
	}
	acc := make([]reg.VecVirtual, nacc)
	for i := range acc {
		acc[i] = YMM()
	}
	accFor := func(i, g, hiHalf int) reg.VecVirtual {
		k := i*unroll + g
		if split {
			return acc[2*k+hiHalf]
		}
		return acc[k]
	}
	var total []reg.VecVirtual
	if perBlock {
		for range m {
			total = append(total, YMM())
		}
	}

	idx, sel, tmp, v, scale := YMM(), YMM(), YMM(), YMM(), YMM()
	gEnd := GP64()
	Label(fmt.Sprintf("gemv%d_row", m))
	MOVQ(addr("x"), x0)
	if m > 3 {
		LEAQ(Mem{Base: x0, Index: ld3, Scale: 1}, x3)
	}
	MOVQ(addr("blocks"), sEnd)
	LEAQ(Mem{Base: s, Index: sEnd, Scale: 4}, sEnd)
	for _, a := range append(acc, total...) {
		VXORPS(a, a, a)
	}
	Label(fmt.Sprintf("gemv%d_block", m))
	if perBlock {
		for _, a := range acc {
			VXORPS(a, a, a)
		}
	} else {
		VBROADCASTSS(Mem{Base: s}, scale)
	}
	MOVQ(addr("blockSize"), gEnd)
	SHRQ(U8(1), gEnd)
	ADDQ(c, gEnd)
	Label(fmt.Sprintf("gemv%d_group", m))
	PREFETCHT0(Mem{Base: c, Index: pf, Scale: 1})
	for g := 0; g < unroll; g++ {
		cb.decodeLow(Mem{Base: c, Disp: 8 * g}, idx, sel, tmp, v)
		if !perBlock {
			VMULPS(scale, v, v)
		}
		for i := 0; i < m; i++ {
			VFMADD231PS(row(i, 64*g), v, accFor(i, g, 0))
		}
		cb.decodeHigh(idx, sel, tmp, v)
		if !perBlock {
			VMULPS(scale, v, v)
		}
		for i := 0; i < m; i++ {
			VFMADD231PS(row(i, 64*g+32), v, accFor(i, g, 1))
		}
	}
	ADDQ(U32(8*unroll), c)
	ADDQ(U32(64*unroll), x0)
	if m > 3 {
		ADDQ(U32(64*unroll), x3)
	}
	CMPQ(c, gEnd)
	JB(LabelRef(fmt.Sprintf("gemv%d_group", m)))

	if perBlock {
		// End of block: fold the block's sums, scale once, add to the totals.
		VBROADCASTSS(Mem{Base: s}, scale)
		for i := 0; i < m; i++ {
			per := acc[len(acc)/m*i : len(acc)/m*(i+1)]
			sum := per[0]
			for _, a := range per[1:] {
				VADDPS(a, sum, sum)
			}
			VFMADD231PS(scale, sum, total[i])
		}
	}
	ADDQ(U8(4), s)
	CMPQ(s, sEnd)
	JB(LabelRef(fmt.Sprintf("gemv%d_block", m)))

	for i := 0; i < m; i++ {
		if perBlock {
			VMOVUPS(total[i], Mem{Base: out, Disp: 32 * i})
			continue
		}
		sum := accFor(i, 0, 0)
		if split {
			VADDPS(accFor(i, 0, 1), sum, sum)
		}
		VMOVUPS(sum, Mem{Base: out, Disp: 32 * i})
	}
	ADDQ(U32(32*m), out)
	ADDQ(addr("cskip"), c)
	ADDQ(addr("sskip"), s)
	DECQ(left)
	JNZ(LabelRef(fmt.Sprintf("gemv%d_row", m)))
	VZEROUPPER()
	RET()
}
