package ptx

import "fmt"

// Type is a PTX scalar type as it appears in an instruction suffix.
type Type int

// The scalar types the builder knows. 8-bit values live in 16-bit registers
// because PTX has no 8-bit register class.
const (
	Pred Type = iota
	U8
	S8
	B8
	U16
	S16
	B16
	F16
	BF16
	U32
	S32
	B32
	F16x2
	BF16x2
	TF32
	U64
	S64
	B64
	F32
)

var typeNames = [...]string{
	Pred: "pred", U8: "u8", S8: "s8", B8: "b8", U16: "u16", S16: "s16", B16: "b16",
	F16: "f16", BF16: "bf16", U32: "u32", S32: "s32", B32: "b32", F16x2: "f16x2",
	BF16x2: "bf16x2", TF32: "tf32", U64: "u64", S64: "s64", B64: "b64", F32: "f32",
}

func (t Type) String() string {
	if t < 0 || int(t) >= len(typeNames) {
		return fmt.Sprintf("Type(%d)", int(t))
	}
	return typeNames[t]
}

func (t Type) valid() bool { return t >= 0 && int(t) < len(typeNames) }

// Class is a register class: the declared type of a register and its name prefix.
type Class int

// Register classes, one name counter each.
const (
	ClassPred Class = iota // .pred %p
	ClassB16               // .b16 %rs (8- and 16-bit integers, f16, bf16)
	ClassB32               // .b32 %r (32-bit integers, packed halves, tf32)
	ClassB64               // .b64 %rd (64-bit integers, addresses)
	ClassF32               // .f32 %f
	numClasses
)

var classDecl = [numClasses]struct{ typ, prefix string }{
	ClassPred: {"pred", "%p"},
	ClassB16:  {"b16", "%rs"},
	ClassB32:  {"b32", "%r"},
	ClassB64:  {"b64", "%rd"},
	ClassF32:  {"f32", "%f"},
}

// Class reports the register class that holds values of type t.
func (t Type) Class() Class {
	switch t {
	case Pred:
		return ClassPred
	case U8, S8, B8, U16, S16, B16, F16, BF16:
		return ClassB16
	case U32, S32, B32, F16x2, BF16x2, TF32:
		return ClassB32
	case U64, S64, B64:
		return ClassB64
	default:
		return ClassF32
	}
}

// Bits is the width of the type in memory.
func (t Type) Bits() int {
	switch t {
	case Pred:
		return 1
	case U8, S8, B8:
		return 8
	case U16, S16, B16, F16, BF16:
		return 16
	case U64, S64, B64:
		return 64
	default:
		return 32
	}
}
