package asmsim

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// The AMX encodings the tests use, checked against llvm-mc -show-encoding
// -mattr=+amx-bf16,+amx-tile.
var amxBytes = map[string][]byte{
	"LDTILECFG (AX)":              {0xc4, 0xe2, 0x78, 0x49, 0x00},
	"TILERELEASE":                 {0xc4, 0xe2, 0x78, 0x49, 0xc0},
	"TILEZERO TMM0":               {0xc4, 0xe2, 0x7b, 0x49, 0xc0},
	"TILELOADD (BX)(CX*1), TMM0":  {0xc4, 0xe2, 0x7b, 0x4b, 0x04, 0x0b},
	"TILELOADD (SI)(CX*1), TMM1":  {0xc4, 0xe2, 0x7b, 0x4b, 0x0c, 0x0e},
	"TILELOADD (DI)(R8*1), TMM2":  {0xc4, 0xa2, 0x7b, 0x4b, 0x14, 0x07},
	"TILESTORED TMM0, (BX)(CX*1)": {0xc4, 0xe2, 0x7a, 0x4b, 0x04, 0x0b},
	"TDPBF16PS TMM2, TMM1, TMM0":  {0xc4, 0xe2, 0x6a, 0x5c, 0xc1},
}

// amxProgram is function f(cfg, c, a, b *byte, stride, bstride int): AX
// = cfg, BX = c, SI = a, DI = b, CX = stride, R8 = bstride, then body, in
// which AMX instructions are written as BYTE runs. It returns the parsed
// program and the line of each body entry.
func amxProgram(t *testing.T, body ...string) (*Program, []int) {
	t.Helper()
	src := []string{"TEXT ·f(SB), NOSPLIT, $0-48", "MOVQ cfg+0(FP), AX", "MOVQ c+8(FP), BX", "MOVQ a+16(FP), SI",
		"MOVQ b+24(FP), DI", "MOVQ stride+32(FP), CX", "MOVQ bstride+40(FP), R8"}
	var lines []int
	for _, l := range body {
		b, ok := amxBytes[l]
		if !ok {
			lines = append(lines, len(src)+1)
			src = append(src, l)
			continue
		}
		src = append(src, "// "+l)
		lines = append(lines, len(src)+1)
		for _, x := range b {
			src = append(src, fmt.Sprintf("BYTE $0x%02x", x))
		}
	}
	p, err := Parse("amx.s", strings.Join(src, "\n")+"\n")
	if err != nil {
		t.Fatal(err)
	}
	return p, lines
}

// tileConfig is a palette-1 configuration with the given rows and bytes
// a row for tiles 0, 1, 2 ...
func tileConfig(shapes ...[2]int) []byte {
	c := make([]byte, 64)
	c[0] = 1
	for i, s := range shapes {
		c[48+i] = byte(s[0])
		binary.LittleEndian.PutUint16(c[16+2*i:], uint16(s[1]))
	}
	return c
}

// randomBF16 is a normally distributed bf16 value (a float32 truncated).
func randomBF16(r *rand.Rand) uint16 {
	return uint16(math.Float32bits(float32(r.NormFloat64())) >> 16)
}

// bf16At is the bf16 value in b's first two bytes, widened to float32.
func bf16At(b []byte) float32 {
	return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)
}

func TestAMXDecode(t *testing.T) {
	p, _ := amxProgram(t, "LDTILECFG (AX)", "TILEZERO TMM0", "TILELOADD (BX)(CX*1), TMM0", "TILELOADD (DI)(R8*1), TMM2",
		"TILESTORED TMM0, (BX)(CX*1)", "TDPBF16PS TMM2, TMM1, TMM0", "TILERELEASE", "RET")
	var got []string
	for _, in := range p.Funcs["f"].Insts[6:] {
		got = append(got, in.Text)
	}
	want := []string{"LDTILECFG (AX)", "TILEZERO TMM0", "TILELOADD (BX)(CX*1), TMM0", "TILELOADD (DI)(R8*1), TMM2",
		"TILESTORED TMM0, (BX)(CX*1)", "TDPBF16PS TMM2, TMM1, TMM0", "TILERELEASE", "RET"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("decoded\n%v\nwant\n%v", got, want)
	}
}

// TestAMXDot checks TDPBF16PS against the SDM's pseudo-code written in
// Go: tiles of 3 rows, 5 pairs of k and 7 columns, from strided memory.
func TestAMXDot(t *testing.T) {
	const rows, pairs, cols, stride = 3, 5, 7, 96
	p, _ := amxProgram(t, "LDTILECFG (AX)", "TILELOADD (BX)(CX*1), TMM0", "TILELOADD (SI)(CX*1), TMM1",
		"TILELOADD (DI)(R8*1), TMM2", "TDPBF16PS TMM2, TMM1, TMM0", "TILESTORED TMM0, (BX)(CX*1)", "TILERELEASE", "RET")
	r := rand.New(rand.NewPCG(1, 2))
	c, a, b := make([]byte, rows*stride), make([]byte, rows*stride), make([]byte, pairs*128)
	for i := range rows {
		for j := range cols {
			binary.LittleEndian.PutUint32(c[i*stride+4*j:], math.Float32bits(float32(r.NormFloat64())))
		}
		for k := range 2 * pairs {
			binary.LittleEndian.PutUint16(a[i*stride+2*k:], randomBF16(r))
		}
	}
	for k := range pairs {
		for j := range 2 * cols {
			binary.LittleEndian.PutUint16(b[k*128+2*j:], randomBF16(r))
		}
	}
	m := NewMachine(p)
	cfg := m.Map(tileConfig([2]int{rows, 4 * cols}, [2]int{rows, 4 * pairs}, [2]int{pairs, 4 * cols}), 0)
	ca, aa, ba := m.Map(c, 0), m.Map(a, 0), m.Map(b, 0)
	if _, err := m.Call("f", cfg, ca, aa, ba, stride, 128); err != nil {
		t.Fatal(err)
	}
	got := m.Bytes(ca)
	for i := range rows {
		for j := range cols {
			acc := math.Float32frombits(binary.LittleEndian.Uint32(c[i*stride+4*j:]))
			for k := range pairs {
				for h := range 2 {
					acc += float32(bf16At(a[i*stride+4*k+2*h:]) * bf16At(b[k*128+4*j+2*h:]))
				}
			}
			if g := math.Float32frombits(binary.LittleEndian.Uint32(got[i*stride+4*j:])); g != acc {
				t.Errorf("c[%d][%d] = %v, want %v", i, j, g, acc)
			}
		}
		// Past the tile's 28 bytes a row, memory is untouched.
		if string(got[i*stride+4*cols:(i+1)*stride]) != string(c[i*stride+4*cols:(i+1)*stride]) {
			t.Errorf("row %d: bytes past the tile written", i)
		}
	}
}

func TestAMXFaults(t *testing.T) {
	full := tileConfig([2]int{16, 64}, [2]int{16, 64}, [2]int{16, 64})
	for _, c := range []struct {
		name string
		cfg  []byte
		body []string
		at   int // index in body of the faulting entry
		want string
	}{
		{"no configuration", full, []string{"TILEZERO TMM0", "RET"}, 0, "no tile configuration loaded"},
		{"unconfigured tile", tileConfig([2]int{0, 0}, [2]int{16, 64}), []string{"LDTILECFG (AX)", "TILEZERO TMM0", "TILERELEASE", "RET"}, 1, "tile 0 is not configured"},
		{"released", full, []string{"LDTILECFG (AX)", "TILERELEASE", "TILEZERO TMM0", "RET"}, 2, "no tile configuration loaded"},
		{"no release", full, []string{"LDTILECFG (AX)", "TILEZERO TMM0", "RET"}, 2, "no TILERELEASE"},
		{"bad palette", append([]byte{2}, full[1:]...), []string{"LDTILECFG (AX)", "TILERELEASE", "RET"}, 0, "palette 2"},
		{"rows without bytes", tileConfig([2]int{4, 0}), []string{"LDTILECFG (AX)", "TILERELEASE", "RET"}, 0, "tile 0: 4 rows of 0 bytes"},
		{"too many rows", tileConfig([2]int{17, 64}), []string{"LDTILECFG (AX)", "TILERELEASE", "RET"}, 0, "17 rows"},
		{"load out of bounds", full, []string{"LDTILECFG (AX)", "TILELOADD (BX)(CX*1), TMM0", "TILERELEASE", "RET"}, 1, "64-byte read out of bounds"},
		{"store out of bounds", full, []string{"LDTILECFG (AX)", "TILEZERO TMM0", "TILESTORED TMM0, (BX)(CX*1)", "TILERELEASE", "RET"}, 2, "64-byte write out of bounds"},
		{"k mismatch", tileConfig([2]int{16, 64}, [2]int{16, 32}, [2]int{16, 64}), []string{"LDTILECFG (AX)", "TDPBF16PS TMM2, TMM1, TMM0", "TILERELEASE", "RET"}, 1, "tile 1 has 8 pairs a row, tile 2 16 rows"},
		{"n mismatch", tileConfig([2]int{16, 64}, [2]int{16, 64}, [2]int{16, 32}), []string{"LDTILECFG (AX)", "TDPBF16PS TMM2, TMM1, TMM0", "TILERELEASE", "RET"}, 1, "tile 0 has 64-byte rows, tile 2 32"},
		{"m mismatch", tileConfig([2]int{16, 64}, [2]int{8, 64}, [2]int{16, 64}), []string{"LDTILECFG (AX)", "TDPBF16PS TMM2, TMM1, TMM0", "TILERELEASE", "RET"}, 1, "tile 0 has 16 rows, tile 1 8"},
	} {
		p, lines := amxProgram(t, c.body...)
		m := NewMachine(p)
		cfg := m.Map(c.cfg, 0)
		// c: 15 rows of 64 bytes, one short of a full tile.
		buf := m.Map(make([]byte, 15*64), 0)
		_, err := m.Call("f", cfg, buf, buf, buf, 64, 64)
		want := fmt.Sprintf("amx.s:%d: ", lines[c.at])
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a fault at %q: %q", c.name, err, want, c.want)
		}
	}
}
