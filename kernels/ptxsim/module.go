package ptxsim

import (
	"fmt"
	"sort"
	"strings"
)

// Module is a loaded PTX module. Modules and kernels are read-only after
// Load and may be launched from several goroutines on different Devices.
type Module struct {
	kernels map[string]*Kernel
	consts  []byte // the .const bank, shared by the module's kernels
}

// Kernel is one decoded .entry function.
type Kernel struct {
	name       string
	code       []inst
	slots      int      // registers per thread, including literal slots
	template   []uint64 // initial register file: literals and variable addresses
	params     []paramDecl
	paramOff   []int
	paramSize  int
	sharedSize int // static shared bytes; dynamic shared starts here
	consts     []byte
}

// Name returns the kernel's entry name.
func (k *Kernel) Name() string { return k.name }

// Params returns the parameter names in declaration (launch) order.
func (k *Kernel) Params() []string {
	names := make([]string, len(k.params))
	for i, p := range k.params {
		names[i] = p.name
	}
	return names
}

// Load parses and decodes PTX text. Anything outside the supported subset is
// an *Error naming the line.
func Load(ptx string) (*Module, error) {
	raws, vars, err := parseModule(ptx)
	if err != nil {
		return nil, err
	}
	m := &Module{kernels: map[string]*Kernel{}}
	constOff := map[string]int{}
	var moduleShared []varDecl
	for _, v := range vars {
		switch v.space {
		case ".const":
			off := alignUp(len(m.consts), v.align)
			if off+v.elem*v.count > maxConstBytes {
				return nil, parseErr(v.line, "", "constant memory above %d bytes", maxConstBytes)
			}
			m.consts = append(m.consts, make([]byte, off-len(m.consts)+v.elem*v.count)...)
			copy(m.consts[off:], v.init)
			if _, dup := constOff[v.name]; dup {
				return nil, parseErr(v.line, "", "duplicate variable %s", v.name)
			}
			constOff[v.name] = off
		case ".shared":
			moduleShared = append(moduleShared, v)
		default:
			return nil, parseErr(v.line, "", "module-level %s variables are not supported", v.space)
		}
	}
	for _, rk := range raws {
		if _, dup := m.kernels[rk.name]; dup {
			return nil, parseErr(rk.line, "", "duplicate kernel %s", rk.name)
		}
		k, err := decodeKernel(rk, moduleShared, constOff)
		if err != nil {
			if e, ok := err.(*Error); ok {
				e.Kernel = rk.name
			}
			return nil, err
		}
		k.consts = m.consts
		m.kernels[rk.name] = k
	}
	return m, nil
}

// Kernel returns the named entry.
func (m *Module) Kernel(name string) (*Kernel, error) {
	k, ok := m.kernels[name]
	if !ok {
		return nil, fmt.Errorf("ptxsim: no kernel %q in module (have %s)", name, strings.Join(m.Kernels(), ", "))
	}
	return k, nil
}

// Kernels lists the module's entry names, sorted.
func (m *Module) Kernels() []string {
	var names []string
	for n := range m.kernels {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func alignUp(n, a int) int {
	if a <= 1 {
		return n
	}
	return (n + a - 1) / a * a
}

// Limits that keep a hostile module from exhausting memory; real kernels sit
// far below both (64 KiB is also the hardware's constant bank).
const (
	maxSlots      = 1 << 16
	maxConstBytes = 64 << 10
)

// symbol is a name usable as an operand that is not a register.
type symbol struct {
	space space
	addr  int64
}

// Special registers occupy the first slots of every register file.
var specialNames = []string{
	"%tid.x", "%tid.y", "%tid.z", "%ntid.x", "%ntid.y", "%ntid.z",
	"%ctaid.x", "%ctaid.y", "%ctaid.z", "%nctaid.x", "%nctaid.y", "%nctaid.z",
	"%laneid", "%warpid", "%nwarpid",
}

const (
	slotZero = iota // always 0, the base of literal addresses
	slotTidX
	slotTidY
	slotTidZ
	slotNtidX
	slotNtidY
	slotNtidZ
	slotCtaidX
	slotCtaidY
	slotCtaidZ
	slotNctaidX
	slotNctaidY
	slotNctaidZ
	slotLaneid
	slotWarpid
	slotNwarpid
	firstRegSlot
)

type decoder struct {
	k       *Kernel
	regs    map[string]int32
	regType map[string]ptype
	syms    map[string]symbol
	params  map[string]int64
	labels  map[string]int32
	lits    map[[2]uint64]int32
	cur     *rawInst
}

func decodeKernel(rk *rawKernel, moduleShared []varDecl, constOff map[string]int) (*Kernel, error) {
	k := &Kernel{name: rk.name, params: rk.params}
	d := &decoder{k: k, regs: map[string]int32{}, regType: map[string]ptype{}, syms: map[string]symbol{},
		params: map[string]int64{}, labels: map[string]int32{}, lits: map[[2]uint64]int32{}}
	k.template = make([]uint64, firstRegSlot)
	for i, n := range specialNames {
		d.regs[n] = int32(i + 1)
		d.regType[n] = tyU32
	}
	for _, p := range rk.params {
		off := alignUp(k.paramSize, p.align)
		k.paramOff = append(k.paramOff, off)
		if _, dup := d.params[p.name]; dup {
			return nil, parseErr(rk.line, "", "duplicate parameter %s", p.name)
		}
		d.params[p.name] = int64(off)
		k.paramSize = off + p.size
	}
	for _, r := range rk.regs {
		names := []string{r.name}
		if r.count >= 0 {
			names = names[:0]
			for i := 0; i < r.count; i++ {
				names = append(names, fmt.Sprintf("%s%d", r.name, i))
			}
		}
		for _, n := range names {
			if _, dup := d.regs[n]; dup {
				return nil, parseErr(rk.line, "", "duplicate register %s", n)
			}
			d.regs[n] = int32(len(k.template))
			d.regType[n] = r.typ
			k.template = append(k.template, 0)
		}
	}
	var dyn []varDecl
	for _, v := range append(append([]varDecl(nil), moduleShared...), rk.vars...) {
		if v.space == ".const" {
			return nil, parseErr(v.line, "", "kernel-local .const variables are not supported")
		}
		if v.space != ".shared" {
			return nil, parseErr(v.line, "", "kernel-local %s variables are not supported", v.space)
		}
		if v.init != nil {
			return nil, parseErr(v.line, "", "shared variables cannot be initialised")
		}
		if v.count < 0 {
			dyn = append(dyn, v)
			continue
		}
		off := alignUp(k.sharedSize, v.align)
		k.sharedSize = off + v.elem*v.count
		if err := d.addSym(v, symbol{spShared, int64(off)}); err != nil {
			return nil, err
		}
	}
	k.sharedSize = alignUp(k.sharedSize, 16)
	for _, v := range dyn {
		if v.align > 1024 {
			return nil, parseErr(v.line, "", "dynamic shared alignment above 1024 is not supported")
		}
		// The dynamic window starts after the static arrays, aligned as
		// its declaration asks (1024 for tiles swizzled by 128 bytes).
		k.sharedSize = alignUp(k.sharedSize, v.align)
		if err := d.addSym(v, symbol{spShared, int64(k.sharedSize)}); err != nil {
			return nil, err
		}
	}
	for n, off := range constOff {
		if _, ok := d.syms[n]; !ok {
			d.syms[n] = symbol{spConst, int64(off)}
		}
	}
	// Labels first, so that forward branches resolve.
	pc := int32(0)
	for i := range rk.body {
		if l := rk.body[i].label; l != "" {
			if _, dup := d.labels[l]; dup {
				return nil, parseErr(rk.body[i].line, "", "duplicate label %s", l)
			}
			d.labels[l] = pc
		} else {
			pc++
		}
	}
	for i := range rk.body {
		ri := &rk.body[i]
		if ri.label != "" {
			continue
		}
		d.cur = ri
		in, err := d.decode(ri)
		if err != nil {
			return nil, err
		}
		k.code = append(k.code, in)
	}
	k.code = append(k.code, inst{op: opExit, guard: -1, line: int32(rk.line), text: "(end of kernel)"})
	k.slots = len(k.template)
	if k.slots > maxSlots {
		return nil, parseErr(rk.line, "", "kernel needs %d registers per thread, more than the simulator's %d", k.slots, maxSlots)
	}
	return k, nil
}

func (d *decoder) addSym(v varDecl, s symbol) error {
	if _, dup := d.syms[v.name]; dup {
		return parseErr(v.line, "", "duplicate variable %s", v.name)
	}
	if _, dup := d.regs[v.name]; dup {
		return parseErr(v.line, "", "variable %s shadows a register", v.name)
	}
	d.syms[v.name] = s
	return nil
}

func (d *decoder) errf(format string, args ...any) *Error {
	return parseErr(d.cur.line, d.cur.text, format, args...)
}

// literal returns the slot holding the given constant.
func (d *decoder) literal(v uint64) int32 {
	key := [2]uint64{v, 0}
	if s, ok := d.lits[key]; ok {
		return s
	}
	s := int32(len(d.k.template))
	d.k.template = append(d.k.template, v)
	d.lits[key] = s
	return s
}

// scratch returns a fresh slot for a '_' destination.
func (d *decoder) scratch() int32 {
	d.k.template = append(d.k.template, 0)
	return int32(len(d.k.template) - 1)
}

// src resolves a source operand of type t to a slot.
func (d *decoder) src(o rawOperand, t ptype) (int32, error) {
	switch o.kind {
	case rNum:
		bits, err := literalBits(o.name, o.neg, t)
		if err != nil {
			return 0, d.errf("%v", err)
		}
		return d.literal(bits), nil
	case rName:
		if o.neg {
			return 0, d.errf("'!' is only allowed on predicate operands here")
		}
		if s, ok := d.regs[o.name]; ok {
			return s, nil
		}
		if sym, ok := d.syms[o.name]; ok {
			return d.literal(uint64(sym.addr)), nil
		}
		if off, ok := d.params[o.name]; ok {
			// The address of a parameter (a tensor map's operand), in the
			// generic window where the parameter space appears.
			return d.literal(paramWindow + uint64(off)), nil
		}
		return 0, d.errf("unknown operand %s", o.name)
	}
	return 0, d.errf("expected a register or literal operand")
}

// pred resolves a predicate source, which may carry '!'.
func (d *decoder) pred(o rawOperand) (int32, bool, error) {
	if o.kind == rNum {
		s, err := d.src(o, tyPred)
		return s, false, err
	}
	if o.kind != rName {
		return 0, false, d.errf("expected a predicate operand")
	}
	s, ok := d.regs[o.name]
	if !ok || s < firstRegSlot {
		return 0, false, d.errf("unknown predicate %s", o.name)
	}
	if d.regType[o.name] != tyPred {
		return 0, false, d.errf("%s is not a predicate register", o.name)
	}
	return s, o.neg, nil
}

// dst resolves a destination register.
func (d *decoder) dst(o rawOperand) (int32, error) {
	if o.kind == rName && o.name == "_" {
		return d.scratch(), nil
	}
	if o.kind != rName || o.neg {
		return 0, d.errf("expected a destination register")
	}
	s, ok := d.regs[o.name]
	if !ok {
		return 0, d.errf("unknown register %s", o.name)
	}
	if s < firstRegSlot {
		return 0, d.errf("cannot write special register %s", o.name)
	}
	return s, nil
}

func (d *decoder) vecDst(o rawOperand, n int) ([]int32, error) {
	if o.kind != rVec || len(o.elems) != n {
		return nil, d.errf("expected a vector of %d registers", n)
	}
	v := make([]int32, n)
	for i, e := range o.elems {
		s, err := d.dst(e)
		if err != nil {
			return nil, err
		}
		v[i] = s
	}
	return v, nil
}

func (d *decoder) vecSrc(o rawOperand, n int, t ptype) ([]int32, error) {
	if o.kind != rVec || len(o.elems) != n {
		return nil, d.errf("expected a vector of %d operands", n)
	}
	v := make([]int32, n)
	for i, e := range o.elems {
		s, err := d.src(e, t)
		if err != nil {
			return nil, err
		}
		v[i] = s
	}
	return v, nil
}

// addr resolves [base+off] for state space sp and returns the base slot and
// the offset. Variable names fold into the offset.
func (d *decoder) addr(o rawOperand, sp space) (int32, int64, error) {
	if o.kind != rAddr {
		return 0, 0, d.errf("expected an address operand [..]")
	}
	if o.name == "" {
		return slotZero, o.off, nil
	}
	if sp == spParam {
		off, ok := d.params[o.name]
		if !ok {
			return 0, 0, d.errf("unknown parameter %s", o.name)
		}
		return slotZero, off + o.off, nil
	}
	if s, ok := d.regs[o.name]; ok {
		return s, o.off, nil
	}
	if sym, ok := d.syms[o.name]; ok {
		if sym.space != sp {
			return 0, 0, d.errf("%s is a %v variable, accessed as %v", o.name, sym.space, sp)
		}
		return slotZero, sym.addr + o.off, nil
	}
	if _, ok := d.params[o.name]; ok {
		return 0, 0, d.errf("parameter %s accessed outside ld.param", o.name)
	}
	return 0, 0, d.errf("unknown address base %s", o.name)
}

func (d *decoder) label(o rawOperand) (int32, error) {
	if o.kind != rName {
		return 0, d.errf("expected a label")
	}
	pc, ok := d.labels[o.name]
	if !ok {
		return 0, d.errf("unknown label %s", o.name)
	}
	return pc, nil
}
