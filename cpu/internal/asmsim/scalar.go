package asmsim

import (
	"encoding/binary"
	"fmt"
)

func putU64(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }
func getU64(b []byte) uint64    { return binary.LittleEndian.Uint64(b) }

// step executes one instruction; it returns the next pc, or done at RET.
func (m *Machine) step(f *Func, in *Inst, pc int, fp uint64) (next int, done bool, err error) {
	next = pc + 1
	a := in.Args
	switch in.Op {
	case "RET":
		if m.tiles.configured {
			// Tile state must not outlive the call: Go preempts and
			// moves goroutines between calls.
			return 0, false, m.fault(in, 0, "returns with a tile configuration loaded (no TILERELEASE)")
		}
		return 0, true, nil
	case "JMP", "JB", "JAE", "JZ", "JNZ":
		if len(a) != 1 || a[0].Kind != KindLabel {
			return 0, false, m.fault(in, 0, "bad jump operand")
		}
		target, ok := f.Labels[a[0].Label]
		if !ok {
			return 0, false, m.fault(in, 0, "unknown label "+a[0].Label)
		}
		var take bool
		switch in.Op {
		case "JMP":
			take = true
		case "JB":
			take = m.cf
		case "JAE":
			take = !m.cf
		case "JZ":
			take = m.zf
		case "JNZ":
			take = !m.zf
		}
		if take {
			next = target
		}
		return next, false, nil
	case "MOVQ", "MOVL", "ADDQ", "SUBQ", "CMPQ", "XORQ", "TESTQ", "SHLQ", "SHRQ", "LEAQ", "INCQ", "DECQ":
		return next, false, m.scalar(in, fp)
	case "LDTILECFG", "TILERELEASE", "TILEZERO", "TILELOADD", "TILESTORED", "TDPBF16PS":
		return next, false, m.amx(in, fp)
	}
	return next, false, m.vector(in, fp)
}

// gsrc reads a scalar source operand: an immediate, a register or 8 bytes
// of memory.
func (m *Machine) gsrc(in *Inst, o Operand, fp uint64) (uint64, error) {
	switch o.Kind {
	case KindImm:
		return uint64(o.Imm), nil
	case KindGPR:
		return m.gpr[o.Reg], nil
	case KindMem:
		b, err := m.load(in, o, fp, 8, 0)
		if err != nil {
			return 0, err
		}
		return getU64(b), nil
	}
	return 0, m.fault(in, 0, "bad scalar operand")
}

func (m *Machine) gdst(in *Inst, o Operand) (*uint64, error) {
	if o.Kind != KindGPR {
		return nil, m.fault(in, 0, "destination is not a general register")
	}
	return &m.gpr[o.Reg], nil
}

func (m *Machine) setZS(r uint64) {
	m.zf = r == 0
	m.sf = int64(r) < 0
}

func (m *Machine) scalar(in *Inst, fp uint64) error {
	a := in.Args
	want := 2
	if in.Op == "INCQ" || in.Op == "DECQ" {
		want = 1
	}
	if len(a) != want {
		return m.fault(in, 0, fmt.Sprintf("%s takes %d operands", in.Op, want))
	}
	switch in.Op {
	case "MOVQ", "MOVL":
		v, err := m.gsrc(in, a[0], fp)
		if err != nil {
			return err
		}
		if in.Op == "MOVL" {
			v = uint64(uint32(v)) // zero-extended; only a register destination is modelled
		} else if a[1].Kind == KindMem {
			var b [8]byte
			putU64(b[:], v)
			return m.store(in, a[1], fp, b[:], 0)
		}
		d, err := m.gdst(in, a[1])
		if err != nil {
			return err
		}
		*d = v
		return nil
	case "LEAQ":
		if a[0].Kind != KindMem || a[0].FP {
			return m.fault(in, 0, "LEAQ needs a register memory operand")
		}
		v, err := m.addr(in, a[0], fp)
		if err != nil {
			return err
		}
		d, err := m.gdst(in, a[1])
		if err != nil {
			return err
		}
		*d = v
		return nil
	case "CMPQ":
		// Go order: CMPQ x, y sets the flags of x - y.
		x, err := m.gsrc(in, a[0], fp)
		if err != nil {
			return err
		}
		y, err := m.gsrc(in, a[1], fp)
		if err != nil {
			return err
		}
		m.subFlags(x, y)
		return nil
	case "INCQ", "DECQ":
		d, err := m.gdst(in, a[0])
		if err != nil {
			return err
		}
		old := *d
		if in.Op == "INCQ" {
			*d++
			m.of = *d == 1<<63
		} else {
			*d--
			m.of = old == 1<<63
		}
		m.setZS(*d) // CF is left alone
		return nil
	}
	s, err := m.gsrc(in, a[0], fp)
	if err != nil {
		return err
	}
	d, err := m.gdst(in, a[1])
	if err != nil {
		return err
	}
	switch in.Op {
	case "ADDQ":
		r := *d + s
		m.cf = r < *d
		m.of = ((*d^r)&(s^r))>>63 != 0
		*d = r
		m.setZS(r)
	case "SUBQ":
		r := m.subFlags(*d, s)
		*d = r
	case "XORQ":
		*d ^= s
		m.cf, m.of = false, false
		m.setZS(*d)
	case "TESTQ":
		m.cf, m.of = false, false
		m.setZS(*d & s)
	case "SHLQ", "SHRQ":
		n := s & 63
		if n == 0 {
			return nil
		}
		if in.Op == "SHLQ" {
			m.cf = (*d>>(64-n))&1 != 0
			*d <<= n
		} else {
			m.cf = (*d>>(n-1))&1 != 0
			*d >>= n
		}
		m.setZS(*d)
	}
	return nil
}

func (m *Machine) subFlags(x, y uint64) uint64 {
	r := x - y
	m.cf = x < y
	m.of = ((x^y)&(x^r))>>63 != 0
	m.setZS(r)
	return r
}
