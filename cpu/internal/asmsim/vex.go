package asmsim

import "fmt"

// decodeVEXAMX turns a run of bytes starting with a three-byte VEX prefix
// into the AMX instruction it encodes, and returns its length. Only the
// forms the kernels use are accepted: map 0F38, W0, L0, tiles in ModRM,
// memory as (base) for LDTILECFG and (base)(index*scale) with no
// displacement for TILELOADD and TILESTORED.
func decodeVEXAMX(b []byte) (Inst, int, error) {
	if len(b) < 5 || b[0] != 0xc4 {
		return Inst{}, 0, fmt.Errorf("byte run % x is not a VEX instruction", b)
	}
	b1, b2, op, modrm := b[1], b[2], b[3], b[4]
	if b1&0x1f != 0x02 || b2&0x84 != 0 || b1&0x80 == 0 {
		return Inst{}, 0, fmt.Errorf("byte run % x: not map 0F38, W0, L0 with a tile in ModRM.reg", b)
	}
	pp, vvvv := b2&3, int(^b2>>3&15)
	xBit, bBit := int(^b1>>6&1), int(^b1>>5&1)
	mod, regf, rm := modrm>>6, int(modrm>>3&7), int(modrm&7)
	tile := func(n int) Operand { return Operand{Kind: KindTile, Reg: n} }
	noV := func() error {
		if vvvv != 0 {
			return fmt.Errorf("byte run % x: VEX.vvvv must be unused", b)
		}
		return nil
	}
	switch {
	case op == 0x49 && pp == 0 && modrm == 0xc0 && bBit == 0 && xBit == 0:
		return Inst{Op: "TILERELEASE", Text: "TILERELEASE"}, 5, noV()
	case op == 0x49 && pp == 0 && mod == 0 && regf == 0 && rm != 4 && rm != 5:
		base := rm | bBit<<3
		m := Operand{Kind: KindMem, Base: base, Index: -1}
		return Inst{Op: "LDTILECFG", Args: []Operand{m}, Text: fmt.Sprintf("LDTILECFG (%s)", gprName(base))}, 5, noV()
	case op == 0x49 && pp == 3 && mod == 3 && rm == 0 && bBit == 0 && xBit == 0:
		return Inst{Op: "TILEZERO", Args: []Operand{tile(regf)}, Text: fmt.Sprintf("TILEZERO TMM%d", regf)}, 5, noV()
	case op == 0x4b && (pp == 3 || pp == 2) && mod == 0 && rm == 4:
		if len(b) < 6 {
			return Inst{}, 0, fmt.Errorf("byte run % x: no SIB byte", b)
		}
		sib := b[5]
		base, index := int(sib&7)|bBit<<3, int(sib>>3&7)|xBit<<3
		if base&7 == 5 || index == 4 {
			return Inst{}, 0, fmt.Errorf("byte run % x: displacement or no index not supported", b)
		}
		m := Operand{Kind: KindMem, Base: base, Index: index, Scale: 1 << (sib >> 6)}
		mem := fmt.Sprintf("(%s)(%s*%d)", gprName(base), gprName(index), m.Scale)
		if pp == 3 {
			return Inst{Op: "TILELOADD", Args: []Operand{m, tile(regf)}, Text: fmt.Sprintf("TILELOADD %s, TMM%d", mem, regf)}, 6, noV()
		}
		return Inst{Op: "TILESTORED", Args: []Operand{tile(regf), m}, Text: fmt.Sprintf("TILESTORED TMM%d, %s", regf, mem)}, 6, noV()
	case op == 0x5c && pp == 2 && mod == 3 && bBit == 0 && vvvv < 8:
		// Go operand order: b (vvvv), a (ModRM.rm), the destination.
		return Inst{Op: "TDPBF16PS", Args: []Operand{tile(vvvv), tile(rm), tile(regf)},
			Text: fmt.Sprintf("TDPBF16PS TMM%d, TMM%d, TMM%d", vvvv, rm, regf)}, 5, nil
	}
	return Inst{}, 0, fmt.Errorf("byte run % x: unknown instruction", b)
}

func gprName(n int) string {
	for name, r := range gprNames {
		if r == n {
			return name
		}
	}
	return "?"
}
