package tensormap

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Swizzle is the shared-memory layout a copy writes: the 16-byte chunks of
// each row of Span bytes exchanged by the row's index, so that reads down a
// column hit distinct banks.
type Swizzle uint8

// The swizzle modes, numbered as CUtensorMapSwizzle.
const (
	SwizzleNone Swizzle = iota
	Swizzle32B
	Swizzle64B
	Swizzle128B
)

// Span is the row length in bytes the pattern repeats over (0 for none).
func (s Swizzle) Span() int {
	switch s {
	case Swizzle32B:
		return 32
	case Swizzle64B:
		return 64
	case Swizzle128B:
		return 128
	}
	return 0
}

func (s Swizzle) String() string {
	switch s {
	case SwizzleNone:
		return "none"
	case Swizzle32B, Swizzle64B, Swizzle128B:
		return fmt.Sprintf("%dB", s.Span())
	}
	return fmt.Sprintf("Swizzle(%d)", uint8(s))
}

// Offset is where the byte at offset off of a destination aligned to
// 1024 bytes (the longest period) lands: its 16-byte chunk (address bits
// 4 and up) XORed with address bits 7 and up, as many bits as a row of the
// span has chunks to tell apart (CUTLASS's Swizzle<3,4,3> for 128 B).
func (s Swizzle) Offset(off int) int {
	span := s.Span()
	if span == 0 {
		return off
	}
	mask := span/16 - 1
	return off ^ (((off >> 7) & mask) << 4)
}

// Elem is the element type, numbered as CUtensorMapDataType.
type Elem uint8

// The element types the kernels copy.
const (
	Uint8    Elem = 0
	Uint16   Elem = 1
	Uint32   Elem = 2
	Float32  Elem = 7
	BFloat16 Elem = 9
)

// Bytes is the size of one element (0 for a type not listed above).
func (e Elem) Bytes() int {
	switch e {
	case Uint8:
		return 1
	case Uint16, BFloat16:
		return 2
	case Uint32, Float32:
		return 4
	}
	return 0
}

func (e Elem) String() string {
	switch e {
	case Uint8:
		return "u8"
	case Uint16:
		return "u16"
	case Uint32:
		return "u32"
	case Float32:
		return "f32"
	case BFloat16:
		return "bf16"
	}
	return fmt.Sprintf("Elem(%d)", uint8(e))
}

// Map2D is a row-major matrix in global memory and the box one copy moves:
// Cols is the innermost dimension (globalDim[0]), Rows the outer one,
// RowStride the bytes between rows (globalStrides[0]). Elements of a box
// outside the matrix read as zero (CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE).
// Element strides are 1 and there is no interleave.
type Map2D struct {
	Base             uint64 // device address of element (0, 0)
	Elem             Elem
	Cols, Rows       uint64
	RowStride        uint64
	BoxCols, BoxRows uint32
	Swizzle          Swizzle
}

func (m Map2D) String() string {
	return fmt.Sprintf("tensor map %v[%d %d] at %#x, row stride %d B, box [%d %d], swizzle %v",
		m.Elem, m.Rows, m.Cols, m.Base, m.RowStride, m.BoxRows, m.BoxCols, m.Swizzle)
}

// BoxBytes is the size of one box in shared memory.
func (m Map2D) BoxBytes() int { return int(m.BoxCols) * int(m.BoxRows) * m.Elem.Bytes() }

// ErrInvalid is wrapped by every Validate error.
var ErrInvalid = errors.New("invalid tensor map")

// Validate checks m against cuTensorMapEncodeTiled's rules for rank 2.
func (m Map2D) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %v: %s", ErrInvalid, m, fmt.Sprintf(format, a...))
	}
	eb := uint64(m.Elem.Bytes())
	switch {
	case eb == 0:
		return bad("unknown element type")
	case m.Base == 0 || m.Base%16 != 0:
		return bad("base address must be non-zero and 16-byte aligned")
	case m.Cols == 0 || m.Rows == 0 || m.Cols > 1<<32 || m.Rows > 1<<32:
		return bad("dimensions must be 1…2^32")
	case m.RowStride%16 != 0 || m.RowStride >= 1<<40:
		return bad("row stride must be a multiple of 16 below 2^40")
	case m.RowStride < m.Cols*eb:
		return bad("row stride is shorter than a row (%d B)", m.Cols*eb)
	case m.BoxCols == 0 || m.BoxRows == 0 || m.BoxCols > 256 || m.BoxRows > 256:
		return bad("box dimensions must be 1…256")
	case uint64(m.BoxCols)*eb%16 != 0:
		return bad("box rows must be a multiple of 16 bytes")
	case m.Swizzle > Swizzle128B:
		return bad("unknown swizzle")
	case m.Swizzle != SwizzleNone && int(uint64(m.BoxCols)*eb) > m.Swizzle.Span():
		return bad("box rows of %d B are longer than the swizzle span", uint64(m.BoxCols)*eb)
	}
	return nil
}

// Size is the size of an encoded map, as of a CUtensorMap.
const Size = 128

// magic marks the layout of Encode ("TMAP" little-endian, then a version).
const magic = 0x50414d54

// Encode writes m in the layout the simulator and the stand-in driver
// read: magic, version, element type, swizzle (uint32 each), base, cols,
// rows, row stride (uint64 each), box cols, box rows (uint32 each), zeros.
// It validates m first.
func (m Map2D) Encode() ([Size]byte, error) {
	var b [Size]byte
	if err := m.Validate(); err != nil {
		return b, err
	}
	le := binary.LittleEndian
	le.PutUint32(b[0:], magic)
	le.PutUint32(b[4:], 1)
	le.PutUint32(b[8:], uint32(m.Elem))
	le.PutUint32(b[12:], uint32(m.Swizzle))
	le.PutUint64(b[16:], m.Base)
	le.PutUint64(b[24:], m.Cols)
	le.PutUint64(b[32:], m.Rows)
	le.PutUint64(b[40:], m.RowStride)
	le.PutUint32(b[48:], m.BoxCols)
	le.PutUint32(b[52:], m.BoxRows)
	return b, nil
}

// Decode reads the layout of Encode and validates what it read.
func Decode(b []byte) (Map2D, error) {
	if len(b) < Size {
		return Map2D{}, fmt.Errorf("%w: %d bytes, want %d", ErrInvalid, len(b), Size)
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != magic || le.Uint32(b[4:]) != 1 {
		return Map2D{}, fmt.Errorf("%w: not an encoded map (magic %#x, version %d)", ErrInvalid, le.Uint32(b[0:]), le.Uint32(b[4:]))
	}
	for i := 56; i < Size; i++ {
		if b[i] != 0 {
			return Map2D{}, fmt.Errorf("%w: reserved byte %d is %#x", ErrInvalid, i, b[i])
		}
	}
	e, s := le.Uint32(b[8:]), le.Uint32(b[12:])
	if e > 255 || s > 255 {
		return Map2D{}, fmt.Errorf("%w: element type %d, swizzle %d", ErrInvalid, e, s)
	}
	m := Map2D{
		Elem: Elem(e), Swizzle: Swizzle(s),
		Base: le.Uint64(b[16:]), Cols: le.Uint64(b[24:]), Rows: le.Uint64(b[32:]), RowStride: le.Uint64(b[40:]),
		BoxCols: le.Uint32(b[48:]), BoxRows: le.Uint32(b[52:]),
	}
	return m, m.Validate()
}
