package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Offsets into the byte-plane table the caller passes: rows 0-3 hold byte
// j of the 16 codebook values (in both 128-bit lanes), row 4 the nibble
// mask.
const planeMask = 4 * 32

// planes decodes NF4 codes with byte lookups. VPSHUFB looks up 32 bytes
// at once in a 16-entry table, so four lookups give the four bytes of
// each codebook value, and two rounds of unpacking reassemble them into
// exact float32 values. The values come out in a fixed permuted order
// (see decode); the caller stores x in the same order.
type planes struct {
	tab  reg.Register
	regs []reg.VecVirtual // the four tables when they fit in registers
	mask reg.VecVirtual   // the nibble mask, or nil to read it from tab
}

func loadPlanes(tab reg.Register, inRegs, maskInReg bool) planes {
	p := planes{tab: tab}
	if inRegs {
		for j := range 4 {
			t := YMM()
			VMOVDQU(Mem{Base: tab, Disp: 32 * j}, t)
			p.regs = append(p.regs, t)
		}
	}
	if maskInReg {
		p.mask = YMM()
		VMOVDQU(Mem{Base: tab, Disp: planeMask}, p.mask)
	}
	return p
}

// split loads the 32 code bytes at src and returns their low and high
// nibbles, one per byte. Without a mask register only the low nibbles
// are made (hi is nil) and the high ones are left to nibbles, which
// reads the codes again rather than hold a register for them.
func (p planes) split(src Mem) (lo, hi reg.VecVirtual) {
	if p.mask == nil {
		lo = YMM()
		p.nibbles(src, 0, lo)
		return lo, nil
	}
	lo, hi = YMM(), YMM()
	VMOVDQU(src, hi)
	VPAND(p.mask, hi, lo)
	VPSRLW(U8(4), hi, hi)
	VPAND(p.mask, hi, hi)
	return lo, hi
}

// lookup sets dst to byte j of the codebook value of each nibble in n.
func (p planes) lookup(j int, n, dst reg.VecVirtual) {
	if p.regs != nil {
		VPSHUFB(n, p.regs[j], dst)
		return
	}
	VMOVDQU(Mem{Base: p.tab, Disp: 32 * j}, dst)
	VPSHUFB(n, dst, dst)
}

// nibbles sets dst to the low (hi = 0) or high (hi = 1) nibbles of the 32
// code bytes at src, one per byte.
func (p planes) nibbles(src Mem, hi int, dst reg.VecVirtual) {
	if hi == 0 {
		VMOVDQU(Mem{Base: p.tab, Disp: planeMask}, dst)
		VPAND(src, dst, dst)
		return
	}
	VMOVDQU(src, dst)
	VPSRLW(U8(4), dst, dst)
	VPAND(Mem{Base: p.tab, Disp: planeMask}, dst, dst)
}

// decode expands the 32 nibbles in n (byte i = code i of the set) into
// four vectors of float32 values and hands vector q to use. Lane l of
// vector q holds codes 16l+4q … 16l+4q+3, so a 128-bit lane never mixes
// the two halves of the 32 bytes (two 32-code blocks stay apart).
func (p planes) decode(n reg.VecVirtual, use func(q int, v reg.VecVirtual)) {
	b0, b1 := YMM(), YMM()
	p.lookup(0, n, b0)
	p.lookup(1, n, b1)
	lo01, hi01 := YMM(), YMM()
	VPUNPCKLBW(b1, b0, lo01)
	VPUNPCKHBW(b1, b0, hi01)
	b2, b3 := YMM(), YMM()
	p.lookup(2, n, b2)
	p.lookup(3, n, b3)
	lo23, hi23 := YMM(), YMM()
	VPUNPCKLBW(b3, b2, lo23)
	VPUNPCKHBW(b3, b2, hi23)
	for q := range 4 {
		v := YMM()
		a, c := lo01, lo23
		if q >= 2 {
			a, c = hi01, hi23
		}
		if q%2 == 0 {
			VPUNPCKLWD(c, a, v)
		} else {
			VPUNPCKHWD(c, a, v)
		}
		use(q, v)
	}
}

// gemv writes the kernel for m activation rows over rows consecutive
// weight rows. A row is a run of steps of ubytes code bytes each (one
// block, or one pair of 32-code blocks); cskip code bytes and sskip scale
// bytes separate one row's run from the next. A step's scales take sstep
// bytes: one scale, or two (sstep = 8) for a pair of 32-code blocks, the
// second applying to the upper 128-bit lanes; a run's scales take sbytes.
// Each unit prefetches the codes pf bytes further on. For weight row r
// and activation row i the kernel adds Σ_steps scale·Σ code·x to the 8
// lanes at acc[8(r·m+i):], so that the chunks of a row along K add up
// there.
//
// x is unit-major: for each 64-code unit, the m rows' 64 values, each in
// the order decode produces them (low nibbles, then high nibbles).
//
// With one row the four byte tables stay in registers and each step is
// summed unscaled, its scale applied once to the sum. With more rows the
// accumulators need the registers: the tables are read from L1 and each
// decoded vector is scaled once and shared by all rows.
func gemv(m int) { gemvKernel(m, false) }

// gemvShort writes the one-row kernel for steps of a single unit (blocks
// of at most 64 codes): it has no loop over units, and folds each step's
// two partial sums into the total, which costs less per step than four.
func gemvShort() { gemvKernel(1, true) }

func gemvKernel(m int, short bool) {
	name := fmt.Sprintf("gemvAVX2x%d", m)
	if short {
		name += "s"
	}
	TEXT(name, NOSPLIT, "func(codes *byte, cskip int, scales *float32, sskip int, sbytes int, sstep int, x *float32, ubytes int, rows int, pf int, tab *[5][32]byte, acc *float32)")
	if short {
		Doc(fmt.Sprintf("%s is the fused decode-dot for a batch of 1 over blocks of at most 64 codes.", name))
	} else {
		Doc(fmt.Sprintf("%s is the fused decode-dot over weight rows for a batch of %d.", name, m))
	}
	c := Load(Param("codes"), GP64())
	s := Load(Param("scales"), GP64())
	tab := Load(Param("tab"), GP64())
	pf := Load(Param("pf"), GP64())
	out := Load(Param("acc"), GP64())
	left := Load(Param("rows"), GP64())
	second := Load(Param("sstep"), GP64())
	SUBQ(U8(4), second) // offset of the upper lanes' scale: 0 or 4
	addr := func(name string) Mem {
		b, err := Param(name).Resolve()
		if err != nil {
			panic(err)
		}
		return b.Addr
	}
	lbl := func(s string) string { return name + "_" + s }

	single := m == 1
	// Accumulators per activation row: enough independent FMA chains to
	// cover the FMA latency within the registers left.
	per := 1
	switch {
	case short:
		per = 2
	case m <= 2:
		per = 4
	case m == 3:
		per = 3
	case m <= 5:
		per = 2
	}
	// Registers: accumulators, the total or the scale, five to decode, the
	// tables for one row; the mask and a second nibble vector if room is
	// left.
	used := m*per + 1 + 5
	if single {
		used += 4
	}
	p := loadPlanes(tab, single, used+2 <= 16)
	acc := make([][]reg.VecVirtual, m)
	for i := range acc {
		for range per {
			acc[i] = append(acc[i], YMM())
		}
	}
	var total reg.VecVirtual
	if single {
		total = YMM()
	}

	scaleVec := func(dst reg.VecVirtual) {
		VBROADCASTSS(Mem{Base: s}, dst)
		TESTQ(second, second)
		JZ(LabelRef(lbl("one_scale")))
		t := YMM()
		VBROADCASTSS(Mem{Base: s, Index: second, Scale: 1}, t)
		VBLENDPS(U8(0xf0), t, dst, dst)
		Label(lbl("one_scale"))
	}

	x0, sEnd := GP64(), GP64()
	var gEnd reg.GPVirtual
	if !short {
		gEnd = GP64()
	}
	Label(lbl("row"))
	MOVQ(addr("x"), x0)
	MOVQ(addr("sbytes"), sEnd)
	ADDQ(s, sEnd)
	if single {
		VXORPS(total, total, total)
	} else {
		for _, r := range acc {
			for _, a := range r {
				VXORPS(a, a, a)
			}
		}
	}
	Label(lbl("step"))
	var sv reg.VecVirtual
	if single {
		for _, a := range acc[0] {
			VXORPS(a, a, a)
		}
	} else {
		sv = YMM()
		scaleVec(sv)
	}
	if !short {
		MOVQ(addr("ubytes"), gEnd)
		ADDQ(c, gEnd)
		Label(lbl("unit"))
	}
	PREFETCHT0(Mem{Base: c, Index: pf, Scale: 1})
	lo, hi := p.split(Mem{Base: c})
	for h, n := range []reg.VecVirtual{lo, hi} {
		if n == nil {
			n = YMM()
			p.nibbles(Mem{Base: c}, h, n)
		}
		p.decode(n, func(q int, v reg.VecVirtual) {
			if !single {
				VMULPS(sv, v, v)
			}
			k := (4*h + q) % per
			for i := range m {
				VFMADD231PS(Mem{Base: x0, Disp: 256*i + 128*h + 32*q}, v, acc[i][k])
			}
		})
	}
	ADDQ(U8(32), c)
	ADDQ(U32(256*m), x0)
	if !short {
		CMPQ(c, gEnd)
		JB(LabelRef(lbl("unit")))
	}

	if single {
		// End of step: fold its sums, scale once, add to the total.
		a := acc[0]
		VADDPS(a[1], a[0], a[0])
		if per == 4 {
			VADDPS(a[3], a[2], a[2])
			VADDPS(a[2], a[0], a[0])
		}
		sv = YMM()
		scaleVec(sv)
		VFMADD231PS(sv, a[0], total)
	}
	ADDQ(addr("sstep"), s)
	CMPQ(s, sEnd)
	JB(LabelRef(lbl("step")))

	for i := range m {
		sum := total
		if !single {
			sum = acc[i][0]
			for _, a := range acc[i][1:] {
				VADDPS(a, sum, sum)
			}
		}
		VADDPS(Mem{Base: out, Disp: 32 * i}, sum, sum)
		VMOVUPS(sum, Mem{Base: out, Disp: 32 * i})
	}
	ADDQ(U32(32*m), out)
	ADDQ(addr("cskip"), c)
	ADDQ(addr("sskip"), s)
	DECQ(left)
	JNZ(LabelRef(lbl("row")))
	VZEROUPPER()
	RET()
}
