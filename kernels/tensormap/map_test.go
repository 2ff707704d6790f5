package tensormap

import (
	"errors"
	"strings"
	"testing"
)

func goodMap() Map2D {
	return Map2D{Base: 0x7f0000001000, Elem: BFloat16, Cols: 4096, Rows: 70, RowStride: 8192,
		BoxCols: 64, BoxRows: 128, Swizzle: Swizzle128B}
}

func TestValidate(t *testing.T) {
	if err := goodMap().Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(*Map2D)
		want string
	}{
		{"elem", func(m *Map2D) { m.Elem = 3 }, "element type"},
		{"base zero", func(m *Map2D) { m.Base = 0 }, "base address"},
		{"base unaligned", func(m *Map2D) { m.Base += 8 }, "base address"},
		{"cols", func(m *Map2D) { m.Cols = 0 }, "dimensions"},
		{"rows", func(m *Map2D) { m.Rows = 1<<32 + 1 }, "dimensions"},
		{"stride", func(m *Map2D) { m.RowStride = 8200 }, "multiple of 16"},
		{"short stride", func(m *Map2D) { m.RowStride = 4096 }, "shorter than a row"},
		{"box zero", func(m *Map2D) { m.BoxRows = 0 }, "box dimensions"},
		{"box big", func(m *Map2D) { m.BoxRows = 257 }, "box dimensions"},
		{"box bytes", func(m *Map2D) { m.BoxCols = 60 }, "multiple of 16 bytes"},
		{"swizzle", func(m *Map2D) { m.Swizzle = 4 }, "unknown swizzle"},
		{"span", func(m *Map2D) { m.Swizzle = Swizzle64B }, "longer than the swizzle span"},
	}
	for _, c := range cases {
		m := goodMap()
		c.edit(&m)
		err := m.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an ErrInvalid saying %q", c.name, err, c.want)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, s := range []Swizzle{SwizzleNone, Swizzle32B, Swizzle64B, Swizzle128B} {
		m := goodMap()
		m.Swizzle, m.BoxCols = s, 16
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b[:])
		if err != nil || got != m {
			t.Fatalf("%v: decoded %v, %v", m, got, err)
		}
	}
	bad := goodMap()
	bad.Base = 3
	if _, err := bad.Encode(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Encode of %v: %v", bad, err)
	}
	b, _ := goodMap().Encode()
	b[100] = 1
	if _, err := Decode(b[:]); err == nil || !strings.Contains(err.Error(), "reserved byte 100") {
		t.Errorf("a set reserved byte: %v", err)
	}
	if _, err := Decode(b[:64]); err == nil {
		t.Error("a short map decoded")
	}
	b[0] = 0
	if _, err := Decode(b[:]); err == nil || !strings.Contains(err.Error(), "not an encoded map") {
		t.Errorf("a wrong magic: %v", err)
	}
}

// Each swizzle permutes the 16-byte chunks within its 1024-byte period,
// keeping byte order within a chunk, and changes only chunks of rows
// after the first of each 8.
func TestSwizzleOffset(t *testing.T) {
	for _, s := range []Swizzle{SwizzleNone, Swizzle32B, Swizzle64B, Swizzle128B} {
		seen := make(map[int]bool)
		for off := 0; off < 2048; off++ {
			o := s.Offset(off)
			if o/1024 != off/1024 || o%16 != off%16 || seen[o] {
				t.Fatalf("%v: offset %d goes to %d", s, off, o)
			}
			seen[o] = true
			if (off/128)%8 == 0 && o != off {
				t.Fatalf("%v: offset %d in the period's first row moved to %d", s, off, o)
			}
		}
	}
	// Swizzle128B: row 3's chunk 0 is stored as chunk 3.
	if got := Swizzle128B.Offset(3*128 + 5); got != 3*128+3*16+5 {
		t.Errorf("128B: row 3 chunk 0 byte 5 at %d", got)
	}
	if got := Swizzle64B.Offset(5*128 + 16); got != 5*128 {
		t.Errorf("64B: row 5 chunk 1 (swapped with chunk 0) at %d", got)
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := goodMap().Encode()
	f.Add(b[:])
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded %v does not encode: %v", m, err)
		}
		if string(enc[:]) != string(data[:Size]) {
			t.Fatalf("%v: encoding differs from the input", m)
		}
	})
}
