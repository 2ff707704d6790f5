package ptx

import (
	"fmt"
	"math"
	"strconv"
)

// Operand is anything an instruction can name.
type Operand interface {
	String() string
	regs() []Reg
}

// Reg is a virtual register. The zero Reg is invalid.
type Reg struct {
	class Class
	id    int // 1-based
}

// Class is the register's class.
func (r Reg) Class() Class { return r.class }

// Valid reports whether r came from a builder.
func (r Reg) Valid() bool { return r.id > 0 }

func (r Reg) String() string {
	if !r.Valid() {
		return "%invalid"
	}
	return classDecl[r.class].prefix + strconv.Itoa(r.id)
}

func (r Reg) regs() []Reg { return []Reg{r} }

// Imm is an integer immediate.
type Imm int64

func (i Imm) String() string { return strconv.FormatInt(int64(i), 10) }
func (Imm) regs() []Reg      { return nil }

// F32Imm is a float32 immediate, printed bit-exactly as 0fXXXXXXXX.
type F32Imm float32

func (f F32Imm) String() string { return fmt.Sprintf("0f%08X", math.Float32bits(float32(f))) }
func (F32Imm) regs() []Reg      { return nil }

// Sym names a parameter, shared array or constant array.
type Sym string

func (s Sym) String() string { return string(s) }
func (Sym) regs() []Reg      { return nil }

// Special registers.
type Special string

// Special registers the kernels use.
const (
	TidX    Special = "%tid.x"
	TidY    Special = "%tid.y"
	NtidX   Special = "%ntid.x"
	CtaidX  Special = "%ctaid.x"
	CtaidY  Special = "%ctaid.y"
	CtaidZ  Special = "%ctaid.z"
	NctaidX Special = "%nctaid.x"
	LaneID  Special = "%laneid"
)

func (s Special) String() string { return string(s) }
func (Special) regs() []Reg      { return nil }

// divergent reports whether threads of one block may see different values.
func (s Special) divergent() bool { return s == TidX || s == TidY || s == LaneID }

// Addr is a memory operand [base+offset]; base is a register or a symbol.
type Addr struct {
	Base   Operand
	Offset int64
}

func (a Addr) String() string {
	if a.Offset == 0 {
		return "[" + a.Base.String() + "]"
	}
	return fmt.Sprintf("[%s+%d]", a.Base, a.Offset)
}

func (a Addr) regs() []Reg { return a.Base.regs() }

// Vec is a brace-enclosed register list for vector loads, stores and mma.
type Vec []Reg

func (v Vec) String() string {
	s := "{"
	for i, r := range v {
		if i > 0 {
			s += ", "
		}
		s += r.String()
	}
	return s + "}"
}

func (v Vec) regs() []Reg { return v }
