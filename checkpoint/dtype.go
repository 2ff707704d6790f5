package checkpoint

// DType is a safetensors element type, spelled as in the header ("F32").
type DType string

// The element types this package knows. Others (F8_E4M3, I64, …) can be
// listed, copied and inspected, not converted.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U64  DType = "U64"
	U32  DType = "U32"
	U16  DType = "U16"
	U8   DType = "U8"
	Bool DType = "BOOL"
	F8E4 DType = "F8_E4M3"
	F8E5 DType = "F8_E5M2"
)

// Size returns the bytes per element, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, Bool, F8E4, F8E5:
		return 1
	}
	return 0
}

// IsFloat reports whether tensors of this type convert to float32.
func (d DType) IsFloat() bool { return d == F64 || d == F32 || d == F16 || d == BF16 }

// torchName is the name bitsandbytes records for a weight's original dtype.
func (d DType) torchName() string {
	switch d {
	case F16:
		return "float16"
	case BF16:
		return "bfloat16"
	}
	return "float32"
}

// dtypeFromTorch maps a bitsandbytes dtype name back to a DType.
func dtypeFromTorch(s string) (DType, bool) {
	switch s {
	case "float32":
		return F32, true
	case "float16":
		return F16, true
	case "bfloat16":
		return BF16, true
	}
	return "", false
}
