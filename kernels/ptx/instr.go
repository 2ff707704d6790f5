package ptx

import (
	"fmt"
	"strings"
)

func def(o Operand) arg { return arg{op: o, def: true} }
func use(o Operand) arg { return arg{op: o} }

// check records an error when a register operand is not of class c.
func (k *Kernel) check(op string, c Class, srcs ...Operand) {
	for _, s := range srcs {
		if r, ok := s.(Reg); ok && r.class != c {
			k.fail("%s: operand %v is not a %s register", op, r, classDecl[c].typ)
		}
	}
}

// Op emits `op.t dst, srcs...` into a fresh register of type t. op carries
// any modifiers, e.g. "add", "fma.rn", "mul.lo", "max", "shr", "div.rn".
// Use it for arithmetic and bit operations whose operands all have type t.
func (k *Kernel) Op(op string, t Type, srcs ...Operand) Reg {
	d := k.NewReg(t)
	k.OpTo(d, op, t, srcs...)
	return d
}

// OpTo is Op writing an existing register (loop-carried accumulators).
func (k *Kernel) OpTo(dst Reg, op string, t Type, srcs ...Operand) {
	full := op + "." + t.String()
	k.check(full, t.Class(), dst)
	k.check(full, t.Class(), srcs...)
	args := []arg{def(dst)}
	for _, s := range srcs {
		args = append(args, use(s))
	}
	k.emit(&Instr{op: full, args: args})
}

// Mov copies src (register, immediate or symbol) into a fresh register.
func (k *Kernel) Mov(t Type, src Operand) Reg { return k.Op("mov", t, src) }

// MovTo copies src into dst.
func (k *Kernel) MovTo(dst Reg, t Type, src Operand) { k.OpTo(dst, "mov", t, src) }

// Special reads a 32-bit special register such as %tid.x.
func (k *Kernel) Special(s Special) Reg {
	d := k.NewReg(U32)
	k.emit(&Instr{op: "mov.u32", args: []arg{def(d), use(s)}})
	return d
}

// LoadParam reads a 64-bit kernel parameter.
func (k *Kernel) LoadParam(p Sym) Reg {
	d := k.NewReg(U64)
	k.emit(&Instr{op: "ld.param.u64", args: []arg{def(d), use(Addr{Base: p})}})
	return d
}

// SharedAddr is the 32-bit shared-window address of a shared array.
func (k *Kernel) SharedAddr(s Sym) Reg {
	d := k.NewReg(U32)
	k.emit(&Instr{op: "mov.u32", args: []arg{def(d), use(s)}})
	return d
}

// Shift emits shl/shr of a value of type t by a u32 amount.
func (k *Kernel) Shift(op string, t Type, a, n Operand) Reg {
	d := k.NewReg(t)
	k.check(op, t.Class(), a)
	k.check(op, ClassB32, n)
	k.emit(&Instr{op: op + "." + t.String(), args: []arg{def(d), use(a), use(n)}})
	return d
}

// MulWide multiplies two 32-bit values into a 64-bit result (mul.wide.u32/s32).
func (k *Kernel) MulWide(t Type, a, b Operand) Reg {
	if t != U32 && t != S32 {
		k.fail("mul.wide: type %v is not u32 or s32", t)
	}
	d := k.NewReg(U64)
	k.check("mul.wide", ClassB32, a, b)
	k.emit(&Instr{op: "mul.wide." + t.String(), args: []arg{def(d), use(a), use(b)}})
	return d
}

// Setp compares a and b of type t (cmp: eq, ne, lt, le, gt, ge, ...).
func (k *Kernel) Setp(cmp string, t Type, a, b Operand) Reg {
	p := k.NewReg(Pred)
	k.check("setp", t.Class(), a, b)
	k.emit(&Instr{op: "setp." + cmp + "." + t.String(), args: []arg{def(p), use(a), use(b)}})
	return p
}

// SetpAnd is setp whose result is also and-ed with predicate q.
func (k *Kernel) SetpAnd(cmp string, t Type, a, b Operand, q Reg) Reg {
	p := k.NewReg(Pred)
	k.check("setp", t.Class(), a, b)
	k.check("setp", ClassPred, q)
	k.emit(&Instr{op: "setp." + cmp + ".and." + t.String(), args: []arg{def(p), use(a), use(b), use(q)}})
	return p
}

// Selp picks a when p holds, b otherwise.
func (k *Kernel) Selp(t Type, a, b Operand, p Reg) Reg {
	d := k.NewReg(t)
	k.SelpTo(d, t, a, b, p)
	return d
}

// SelpTo is Selp writing an existing register.
func (k *Kernel) SelpTo(d Reg, t Type, a, b Operand, p Reg) {
	k.check("selp", t.Class(), d, a, b)
	k.check("selp", ClassPred, p)
	k.emit(&Instr{op: "selp." + t.String(), args: []arg{def(d), use(a), use(b), use(p)}})
}

// Cvt converts src of type st to dt. mod is a rounding or saturation
// modifier ("rn", "rna", "rzi", "sat") or "".
func (k *Kernel) Cvt(mod string, dt, st Type, src Operand) Reg {
	op := "cvt."
	if mod != "" {
		op += mod + "."
	}
	op += dt.String() + "." + st.String()
	if st == BF16 {
		k.requireISA(71) // conversions from bf16 arrived in PTX ISA 7.1
	}
	d := k.NewReg(dt)
	k.check(op, st.Class(), src)
	k.emit(&Instr{op: op, args: []arg{def(d), use(src)}})
	return d
}

// CvtPack converts two f32 values to a packed pair (dt F16x2 or BF16x2);
// lo lands in the low half.
func (k *Kernel) CvtPack(dt Type, lo, hi Operand) Reg {
	if dt != F16x2 && dt != BF16x2 {
		k.fail("cvt pack: type %v is not f16x2 or bf16x2", dt)
	}
	op := "cvt.rn." + dt.String() + ".f32"
	d := k.NewReg(dt)
	k.check(op, ClassF32, lo, hi)
	// cvt.rn.f16x2.f32 d, a, b puts a in the upper half.
	k.emit(&Instr{op: op, args: []arg{def(d), use(hi), use(lo)}})
	return d
}

// Bfe extracts len bits at pos from a (bfe.u32/s32/u64/s64).
func (k *Kernel) Bfe(t Type, a, pos, length Operand) Reg {
	d := k.NewReg(t)
	k.check("bfe", t.Class(), a)
	k.check("bfe", ClassB32, pos, length)
	k.emit(&Instr{op: "bfe." + t.String(), args: []arg{def(d), use(a), use(pos), use(length)}})
	return d
}

// Prmt permutes bytes of a and b by selector.
func (k *Kernel) Prmt(a, b, sel Operand) Reg {
	d := k.NewReg(B32)
	k.check("prmt", ClassB32, a, b, sel)
	k.emit(&Instr{op: "prmt.b32", args: []arg{def(d), use(a), use(b), use(sel)}})
	return d
}

// Lop3 computes an arbitrary three-input logic function given by its truth table.
func (k *Kernel) Lop3(a, b, c Operand, lut uint8) Reg {
	d := k.NewReg(B32)
	k.check("lop3", ClassB32, a, b, c)
	k.emit(&Instr{op: "lop3.b32", args: []arg{def(d), use(a), use(b), use(c), use(Imm(lut))}})
	return d
}

// Ld loads one value of type t; space is e.g. "global", "global.nc",
// "shared", "const".
func (k *Kernel) Ld(space string, t Type, addr Addr) Reg {
	d := k.NewReg(t)
	k.LdTo(d, space, t, addr)
	return d
}

// LdTo is Ld writing an existing register.
func (k *Kernel) LdTo(d Reg, space string, t Type, addr Addr) {
	k.checkAddr("ld", space, addr)
	k.check("ld", t.Class(), d)
	k.emit(&Instr{op: "ld." + space + "." + t.String(), args: []arg{def(d), use(addr)}})
}

// LdV loads a vector of n (2 or 4) values of type t.
func (k *Kernel) LdV(space string, t Type, n int, addr Addr) Vec {
	v := make(Vec, n)
	for i := range v {
		v[i] = k.NewReg(t)
	}
	k.LdVTo(v, space, t, addr)
	return v
}

// LdVTo is LdV writing existing registers.
func (k *Kernel) LdVTo(v Vec, space string, t Type, addr Addr) {
	if len(v) != 2 && len(v) != 4 {
		k.fail("ld: vector width %d", len(v))
		return
	}
	k.checkAddr("ld", space, addr)
	for _, r := range v {
		k.check("ld", t.Class(), r)
	}
	k.emit(&Instr{op: fmt.Sprintf("ld.%s.v%d.%s", space, len(v), t), args: []arg{def(v), use(addr)}})
}

// St stores one value of type t.
func (k *Kernel) St(space string, t Type, addr Addr, src Operand) {
	k.checkAddr("st", space, addr)
	k.check("st", t.Class(), src)
	k.emit(&Instr{op: "st." + space + "." + t.String(), args: []arg{use(addr), use(src)}, effect: true})
}

// StV stores a vector of 2 or 4 registers.
func (k *Kernel) StV(space string, t Type, addr Addr, v Vec) {
	if len(v) != 2 && len(v) != 4 {
		k.fail("st: vector width %d", len(v))
		return
	}
	k.checkAddr("st", space, addr)
	for _, r := range v {
		k.check("st", t.Class(), r)
	}
	k.emit(&Instr{op: fmt.Sprintf("st.%s.v%d.%s", space, len(v), t), args: []arg{use(addr), use(v)}, effect: true})
}

// Red performs a reduction into global memory, e.g. Red("add", F32, addr, v).
func (k *Kernel) Red(op string, t Type, addr Addr, src Operand) {
	k.check("red", t.Class(), src)
	k.emit(&Instr{op: "red.global." + op + "." + t.String(), args: []arg{use(addr), use(src)}, effect: true})
}

// Atom performs an atomic operation on global memory and returns the old value.
func (k *Kernel) Atom(op string, t Type, addr Addr, src Operand) Reg {
	d := k.NewReg(t)
	k.check("atom", t.Class(), src)
	k.emit(&Instr{op: "atom.global." + op + "." + t.String(), args: []arg{def(d), use(addr), use(src)}, effect: true})
	return d
}

func (k *Kernel) checkAddr(op, space string, a Addr) {
	if strings.Contains(space, ".L1::") {
		k.requireISA(74) // eviction priorities arrived in PTX ISA 7.4
	}
	if a.Base == nil {
		k.fail("%s.%s: address without base", op, space)
		return
	}
	if r, ok := a.Base.(Reg); ok {
		want := ClassB64
		if space == "shared" {
			want = ClassB32
		}
		if r.class != want {
			k.fail("%s.%s: address register %v is not %s", op, space, r, classDecl[want].typ)
		}
	}
}

// BarSync is bar.sync 0: every thread of the block must reach it.
func (k *Kernel) BarSync() {
	k.emit(&Instr{op: "bar.sync", args: []arg{use(Imm(0))}, effect: true, barrier: true})
}

// Shfl is shfl.sync.mode.b32 over the full warp (mode: idx, bfly, down, up).
func (k *Kernel) Shfl(mode string, src, lane Operand, c int) Reg {
	t := B32
	if r, ok := src.(Reg); ok && r.class == ClassF32 {
		t = F32
	}
	d := k.NewReg(t)
	k.check("shfl", ClassB32, lane)
	k.emit(&Instr{op: "shfl.sync." + mode + ".b32", args: []arg{def(d), use(src), use(lane), use(Imm(c)), use(Imm(-1))}, sync: true})
	return d
}

// VoteAny is vote.sync.any.pred over the full warp: p on any lane.
func (k *Kernel) VoteAny(p Reg) Reg {
	k.check("vote", ClassPred, p)
	d := k.NewReg(Pred)
	k.emit(&Instr{op: "vote.sync.any.pred", args: []arg{def(d), use(p), use(Imm(-1))}, sync: true})
	return d
}

// Bitcast reinterprets the bits of src as type t (same width), e.g. the low
// word of a u64 parameter as an f32.
func (k *Kernel) Bitcast(t Type, src Reg) Reg {
	d := k.NewReg(t)
	if t.Bits() != classBits(src.class) {
		k.fail("bitcast: %v is not %d bits wide", src, t.Bits())
	}
	k.emit(&Instr{op: fmt.Sprintf("mov.b%d", t.Bits()), args: []arg{def(d), use(src)}})
	return d
}

func classBits(c Class) int {
	switch c {
	case ClassB16:
		return 16
	case ClassB64:
		return 64
	case ClassPred:
		return 1
	}
	return 32
}
