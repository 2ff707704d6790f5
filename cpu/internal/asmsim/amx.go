package asmsim

import (
	"encoding/binary"
	"fmt"
)

// tileState is the AMX state: eight tiles of up to 16 rows of 64 bytes
// and the configuration LDTILECFG loaded (palette 1), if any.
type tileState struct {
	configured bool
	rows       [8]int
	colsb      [8]int
	data       [8][16][64]byte
}

// amx executes the AMX instructions. Like the CPU it faults on a tile
// instruction with no configuration loaded, on a tile the configuration
// leaves empty, and on TDPBF16PS operands whose shapes do not fit; memory
// accesses fault out of bounds, naming the instruction's line.
func (m *Machine) amx(in *Inst, fp uint64) error {
	t := &m.tiles
	a := in.Args
	if want := map[string]int{"TILERELEASE": 0, "LDTILECFG": 1, "TILEZERO": 1, "TILELOADD": 2, "TILESTORED": 2, "TDPBF16PS": 3}[in.Op]; len(a) != want {
		return m.fault(in, 0, fmt.Sprintf("%s takes %d operands", in.Op, want))
	}
	use := func(o Operand) (int, error) {
		if o.Kind != KindTile {
			return 0, m.fault(in, 0, "operand is not a tile")
		}
		if !t.configured {
			return 0, m.fault(in, 0, "no tile configuration loaded")
		}
		if t.rows[o.Reg] == 0 {
			return 0, m.fault(in, 0, fmt.Sprintf("tile %d is not configured", o.Reg))
		}
		return o.Reg, nil
	}
	switch in.Op {
	case "LDTILECFG":
		if a[0].Kind != KindMem {
			return m.fault(in, 0, "LDTILECFG takes a memory operand")
		}
		b, err := m.load(in, a[0], fp, 64, 0)
		if err != nil {
			return err
		}
		return m.loadTileConfig(in, b)
	case "TILERELEASE":
		*t = tileState{}
		return nil
	case "TILEZERO":
		n, err := use(a[0])
		if err != nil {
			return err
		}
		t.data[n] = [16][64]byte{}
		return nil
	case "TILELOADD", "TILESTORED":
		mem, tile := a[0], a[1]
		if in.Op == "TILESTORED" {
			tile, mem = a[0], a[1]
		}
		n, err := use(tile)
		if err != nil {
			return err
		}
		if mem.Kind != KindMem || mem.Index < 0 || mem.FP || mem.Sym != "" {
			return m.fault(in, 0, "needs a (base)(index*scale) memory operand")
		}
		// Row r is at base + r·stride, the stride being index·scale.
		stride := m.gpr[mem.Index] * uint64(mem.Scale)
		row := Operand{Kind: KindMem, Base: mem.Base, Index: -1, Disp: mem.Disp}
		for r := 0; r < t.rows[n]; r++ {
			if in.Op == "TILESTORED" {
				if err := m.store(in, row, fp, t.data[n][r][:t.colsb[n]], 0); err != nil {
					return err
				}
			} else {
				b, err := m.load(in, row, fp, t.colsb[n], 0)
				if err != nil {
					return err
				}
				t.data[n][r] = [64]byte{}
				copy(t.data[n][r][:], b)
			}
			row.Disp += int64(stride)
		}
		if in.Op == "TILELOADD" {
			for r := t.rows[n]; r < 16; r++ {
				t.data[n][r] = [64]byte{}
			}
		}
		return nil
	case "TDPBF16PS":
		bt, err := use(a[0])
		if err != nil {
			return err
		}
		at, err := use(a[1])
		if err != nil {
			return err
		}
		ct, err := use(a[2])
		if err != nil {
			return err
		}
		if at == bt || at == ct || bt == ct {
			return m.fault(in, 0, "tiles must be distinct")
		}
		switch {
		case t.colsb[ct]%4 != 0 || t.colsb[at]%4 != 0 || t.colsb[bt]%4 != 0:
			return m.fault(in, 0, "tile rows must be whole dwords")
		case t.colsb[ct] != t.colsb[bt]:
			return m.fault(in, 0, fmt.Sprintf("tile %d has %d-byte rows, tile %d %d", ct, t.colsb[ct], bt, t.colsb[bt]))
		case t.rows[ct] != t.rows[at]:
			return m.fault(in, 0, fmt.Sprintf("tile %d has %d rows, tile %d %d", ct, t.rows[ct], at, t.rows[at]))
		case t.colsb[at]/4 != t.rows[bt]:
			return m.fault(in, 0, fmt.Sprintf("tile %d has %d pairs a row, tile %d %d rows", at, t.colsb[at]/4, bt, t.rows[bt]))
		}
		c, x, y := &t.data[ct], &t.data[at], &t.data[bt]
		// The SDM's order: for each k, the pair's even product, then its odd one.
		for i := 0; i < t.rows[ct]; i++ {
			for k := 0; k < t.colsb[at]/4; k++ {
				for j := 0; j < t.colsb[ct]/4; j++ {
					acc := binary.LittleEndian.Uint32(c[i][4*j:])
					for h := range 2 {
						p := uint32(binary.LittleEndian.Uint16(x[i][4*k+2*h:])) << 16
						q := uint32(binary.LittleEndian.Uint16(y[k][4*j+2*h:])) << 16
						acc = dotBF16Step(acc, p, q)
					}
					binary.LittleEndian.PutUint32(c[i][4*j:], acc)
				}
			}
		}
		return nil
	}
	return m.fault(in, 0, "unknown instruction "+in.Op)
}

// loadTileConfig checks and loads a 64-byte tile configuration: palette 0
// releases the tiles, palette 1 gives each tile its rows (at most 16) and
// bytes a row (at most 64), both zero for an unused tile; reserved bytes
// must be zero. Loading zeroes every tile.
func (m *Machine) loadTileConfig(in *Inst, b []byte) error {
	t := &m.tiles
	bad := func(why string) error { return m.fault(in, 0, "bad tile configuration: "+why) }
	switch b[0] {
	case 0:
		*t = tileState{}
		return nil
	case 1:
	default:
		return bad(fmt.Sprintf("palette %d", b[0]))
	}
	if b[1] != 0 {
		return bad("start_row not 0")
	}
	for i, v := range b {
		if (i >= 2 && i < 16 || i >= 32 && i < 48 || i >= 56) && v != 0 {
			return bad(fmt.Sprintf("reserved byte %d is %#x", i, v))
		}
	}
	var s tileState
	s.configured = true
	for n := range 8 {
		s.colsb[n] = int(binary.LittleEndian.Uint16(b[16+2*n:]))
		s.rows[n] = int(b[48+n])
		if s.colsb[n] > 64 || s.rows[n] > 16 || (s.colsb[n] == 0) != (s.rows[n] == 0) {
			return bad(fmt.Sprintf("tile %d: %d rows of %d bytes", n, s.rows[n], s.colsb[n]))
		}
	}
	*t = s
	return nil
}
