package asmsim

import (
	"errors"
	"fmt"
)

// Machine is the simulated CPU state and memory for one program.
type Machine struct {
	prog *Program
	gpr  [16]uint64
	vec  [32][64]byte
	k    [8]uint64
	// tiles is the AMX state.
	tiles tileState
	// Flags, as the instructions the kernels use set them.
	zf, cf, sf, of bool
	regions        []*region
	next           uint64
	syms           map[string]uint64
	// Limit bounds the instructions one Call executes (0: a default).
	Limit int
	// Executed counts the instructions of the last Call.
	Executed int
	// Seen counts executed instructions by mnemonic over all calls.
	Seen map[string]int
}

type region struct {
	base     uint64
	data     []byte
	readOnly bool
	name     string
}

// Fault is an error in the simulated program: a bad memory access, an
// unknown instruction or a runaway loop.
type Fault struct {
	File   string
	Line   int
	Inst   string
	Addr   uint64
	Reason string
}

func (f *Fault) Error() string {
	if f.Addr != 0 {
		return fmt.Sprintf("%s:%d: %s: %s at %#x", f.File, f.Line, f.Inst, f.Reason, f.Addr)
	}
	return fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Inst, f.Reason)
}

// ErrNoFunc is returned for a Call of a function the program lacks.
var ErrNoFunc = errors.New("asmsim: no such function")

const (
	firstAddr  = 0x10000000
	regionGap  = 4096
	defaultCap = 200_000_000
)

// NewMachine returns a machine with p's read-only data mapped.
func NewMachine(p *Program) *Machine {
	m := &Machine{prog: p, next: firstAddr, syms: map[string]uint64{}, Seen: map[string]int{}}
	for name, b := range p.Data {
		m.syms[name] = m.mapRegion(append([]byte(nil), b...), 0, true, name)
	}
	return m
}

// Map copies data into a fresh region of simulated memory and returns its
// address, whose remainder modulo 4096 is misalign (so alignment faults are
// as on the real slice). Accesses outside every region fault.
func (m *Machine) Map(data []byte, misalign int) uint64 {
	return m.mapRegion(append([]byte(nil), data...), misalign, false, "")
}

// Reserve sets aside n bytes of address space, mapped to nothing, at an
// address whose remainder modulo 4096 is misalign; MapAt then maps parts of
// it (rows of a strided operand, say), leaving the gaps faulting.
func (m *Machine) Reserve(n, misalign int) uint64 {
	base := m.next + uint64(misalign%regionGap)
	size := (uint64(n) + uint64(misalign%regionGap) + regionGap - 1) / regionGap * regionGap
	m.next += size + regionGap // a guard gap after each region
	return base
}

// MapAt copies data into simulated memory at addr, which must lie in space
// from Reserve and overlap no other region.
func (m *Machine) MapAt(addr uint64, data []byte) error {
	end := addr + uint64(len(data))
	if addr < firstAddr || end > m.next || end < addr {
		return fmt.Errorf("asmsim: %#x+%d is not reserved address space", addr, len(data))
	}
	for _, r := range m.regions {
		if addr < r.base+uint64(len(r.data)) && r.base < end {
			return fmt.Errorf("asmsim: %#x+%d overlaps a region at %#x", addr, len(data), r.base)
		}
	}
	m.regions = append(m.regions, &region{base: addr, data: append([]byte(nil), data...)})
	return nil
}

func (m *Machine) mapRegion(data []byte, misalign int, ro bool, name string) uint64 {
	base := m.Reserve(len(data), misalign)
	m.regions = append(m.regions, &region{base: base, data: data, readOnly: ro, name: name})
	return base
}

// Bytes returns the simulated memory of the region mapped at addr.
func (m *Machine) Bytes(addr uint64) []byte {
	for _, r := range m.regions {
		if r.base == addr {
			return r.data
		}
	}
	return nil
}

func (m *Machine) find(addr uint64, n int) *region {
	for _, r := range m.regions {
		if addr >= r.base && addr+uint64(n) <= r.base+uint64(len(r.data)) && addr+uint64(n) >= addr {
			return r
		}
	}
	return nil
}

// Call runs function name with the 8-byte argument words args laid out
// from 0(FP) on; it returns the argument frame after the RET (results
// follow the arguments).
func (m *Machine) Call(name string, args ...uint64) ([]uint64, error) {
	f := m.prog.Funcs[name]
	if f == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoFunc, name)
	}
	if len(args)*8 > f.ArgSize {
		return nil, fmt.Errorf("asmsim: %s takes %d bytes of arguments, got %d", name, f.ArgSize, 8*len(args))
	}
	frame := make([]byte, f.ArgSize)
	for i, a := range args {
		putU64(frame[8*i:], a)
	}
	fp := m.mapRegion(frame, 0, false, "frame")
	defer func() { m.regions = m.regions[:len(m.regions)-1] }()
	limit := m.Limit
	if limit == 0 {
		limit = defaultCap
	}
	m.Executed = 0
	counts := make([]int, len(f.Insts)) // per instruction: cheaper than a map
	defer func() {
		for i, n := range counts {
			if n > 0 {
				m.Seen[f.Insts[i].Op] += n
			}
		}
	}()
	pc := 0
	for {
		if pc < 0 || pc >= len(f.Insts) {
			return nil, &Fault{File: m.prog.File, Reason: fmt.Sprintf("%s ran off its end", name)}
		}
		in := &f.Insts[pc]
		if m.Executed >= limit {
			return nil, m.fault(in, 0, fmt.Sprintf("instruction limit %d reached", limit))
		}
		m.Executed++
		counts[pc]++
		next, done, err := m.step(f, in, pc, fp)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		pc = next
	}
	out := make([]uint64, len(frame)/8)
	for i := range out {
		out[i] = getU64(frame[8*i:])
	}
	return out, nil
}

func (m *Machine) fault(in *Inst, addr uint64, reason string) *Fault {
	return &Fault{File: m.prog.File, Line: in.Line, Inst: in.Text, Addr: addr, Reason: reason}
}

// addr computes a memory operand's address.
func (m *Machine) addr(in *Inst, o Operand, fp uint64) (uint64, error) {
	switch {
	case o.FP:
		return fp + uint64(o.Disp), nil
	case o.Sym != "":
		a, ok := m.syms[o.Sym]
		if !ok {
			return 0, m.fault(in, 0, "unknown symbol "+o.Sym)
		}
		return a + uint64(o.Disp), nil
	}
	a := uint64(o.Disp)
	if o.Base >= 0 {
		a += m.gpr[o.Base]
	}
	if o.Index >= 0 {
		a += m.gpr[o.Index] * uint64(o.Scale)
	}
	return a, nil
}

// load reads n bytes at a memory operand, faulting outside the regions or
// when align > 0 and the address is not a multiple of it.
func (m *Machine) load(in *Inst, o Operand, fp uint64, n, align int) ([]byte, error) {
	a, err := m.addr(in, o, fp)
	if err != nil {
		return nil, err
	}
	if align > 0 && a%uint64(align) != 0 {
		return nil, m.fault(in, a, fmt.Sprintf("%d-byte access not %d-byte aligned", n, align))
	}
	r := m.find(a, n)
	if r == nil {
		return nil, m.fault(in, a, fmt.Sprintf("%d-byte read out of bounds", n))
	}
	return r.data[a-r.base : a-r.base+uint64(n)], nil
}

func (m *Machine) store(in *Inst, o Operand, fp uint64, b []byte, align int) error {
	a, err := m.addr(in, o, fp)
	if err != nil {
		return err
	}
	if align > 0 && a%uint64(align) != 0 {
		return m.fault(in, a, fmt.Sprintf("%d-byte access not %d-byte aligned", len(b), align))
	}
	r := m.find(a, len(b))
	if r == nil {
		return m.fault(in, a, fmt.Sprintf("%d-byte write out of bounds", len(b)))
	}
	if r.readOnly {
		return m.fault(in, a, "write to read-only data")
	}
	copy(r.data[a-r.base:], b)
	return nil
}
