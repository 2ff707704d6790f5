package asmsim

import (
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

const faultSrc = `#include "textflag.h"

// func sum(p *float32, n int, out *float32)
TEXT ·sum(SB), NOSPLIT, $0-24
	MOVQ   p+0(FP), AX
	MOVQ   n+8(FP), CX
	MOVQ   out+16(FP), DX
	VXORPS Y0, Y0, Y0

loop:
	VADDPS (AX), Y0, Y0
	ADDQ   $0x20, AX
	DECQ   CX
	JNZ    loop
	VMOVUPS Y0, (DX)
	VZEROUPPER
	RET

// func stream(dst *float32)
TEXT ·stream(SB), NOSPLIT, $0-8
	MOVQ     dst+0(FP), AX
	VPXORD   Z0, Z0, Z0
	VMOVNTPS Z0, (AX)
	SFENCE
	RET

// func spin()
TEXT ·spin(SB), NOSPLIT, $0-0
top:
	JMP top
`

func floatBytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesFloat(b []byte, i int) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
}

func mustParse(t *testing.T, src string) *Program {
	t.Helper()
	p, err := Parse("test.s", src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunsALoop(t *testing.T) {
	m := NewMachine(mustParse(t, faultSrc))
	in := make([]float32, 24)
	for i := range in {
		in[i] = float32(i)
	}
	p := m.Map(floatBytes(in), 0)
	out := m.Map(make([]byte, 32), 0)
	if _, err := m.Call("sum", p, 3, out); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		want := in[i] + in[8+i] + in[16+i]
		if got := bytesFloat(m.Bytes(out), i); got != want {
			t.Errorf("lane %d: %v, want %v", i, got, want)
		}
	}
	if m.Executed != 4+4*3+3 {
		t.Errorf("executed %d instructions", m.Executed)
	}
}

// TestFaults: a read past the mapped data and a misaligned streaming store
// fault, naming the instruction's line, and leave the memory as it was.
func TestFaults(t *testing.T) {
	m := NewMachine(mustParse(t, faultSrc))
	p := m.Map(make([]byte, 64), 0)
	out := m.Map(make([]byte, 32), 0)
	_, err := m.Call("sum", p, 3, out)
	var f *Fault
	if !errors.As(err, &f) || f.Line != 11 || f.Addr != p+64 || !strings.Contains(err.Error(), "test.s:11: VADDPS (AX), Y0, Y0: 32-byte read out of bounds") {
		t.Fatalf("read past the end: %v", err)
	}
	dst := m.Map(make([]byte, 128), 0)
	if _, err := m.Call("stream", dst); err != nil {
		t.Fatalf("aligned stream: %v", err)
	}
	m.Bytes(dst)[4] = 7
	_, err = m.Call("stream", dst+4)
	if !errors.As(err, &f) || f.Line != 23 || !strings.Contains(err.Error(), "test.s:23: VMOVNTPS Z0, (AX): 64-byte access not 64-byte aligned") {
		t.Fatalf("misaligned stream: %v", err)
	}
	if m.Bytes(dst)[4] != 7 {
		t.Error("a faulting store wrote")
	}
	m.Limit = 1000
	if _, err := m.Call("spin"); err == nil || !strings.Contains(err.Error(), "instruction limit 1000") {
		t.Fatalf("runaway loop: %v", err)
	}
	if _, err := m.Call("nothing"); !errors.Is(err, ErrNoFunc) {
		t.Fatalf("missing function: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"TEXT ·f(SB), NOSPLIT, $0-0\n\tVPCONFLICTD Z1, Z2\n", "x.s:2: VPCONFLICTD Z1, Z2: unknown instruction VPCONFLICTD"},
		{"TEXT ·f(SB), NOSPLIT, $0-0\n\tVADDPS Z1, Q2, Z3\n", "x.s:2: VADDPS Z1, Q2, Z3: unknown operand \"Q2\""},
		{"TEXT ·f(SB), NOSPLIT, $0-0\n\tVADDPS Z1, Z40, Z3\n", "out of range"},
		{"\tRET\n", "instruction outside a function"},
		{"TEXT ·f(SB), NOSPLIT, $0-0\n\tMOVQ 8(AX)(BX*3), CX\n", "bad index"},
	} {
		_, err := Parse("x.s", c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.src, err, c.want)
		}
	}
}

// TestFMA32 holds the fused multiply-add to the exact product and sum
// rounded once, on random operands, cancellations and rounding midpoints.
func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	exact := func(a, b, c float32) float32 {
		x := new(big.Float).SetPrec(0).SetFloat64(float64(a))
		x.SetPrec(200).Mul(x, new(big.Float).SetFloat64(float64(b)))
		x.Add(x, new(big.Float).SetFloat64(float64(c)))
		f, _ := x.Float32()
		return f
	}
	rnd := func() float32 {
		return float32(math.Ldexp(r.Float64()*2-1, r.IntN(40)-20))
	}
	n := 0
	for i := range 200000 {
		a, b := rnd(), rnd()
		var c float32
		switch i % 3 {
		case 0:
			c = rnd()
		case 1: // cancellation: c close to -a·b
			c = -float32(float64(a) * float64(b))
		default: // a·b + c lands on a float32 midpoint before the low bits
			p := float64(a) * float64(b)
			c = float32(-p)
			c = math.Nextafter32(c, 0)
		}
		if got, want := fma32(a, b, c), exact(a, b, c); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%v, %v, %v) = %v, want %v", a, b, c, got, want)
		}
		n++
	}
	// Double rounding's own case: the float64 sum is a float32 midpoint.
	a, b, c := float32(1+0x1p-12), float32(1+0x1p-12), float32(0x1p-60)
	if got, want := fma32(a, b, c), exact(a, b, c); got != want {
		t.Fatalf("midpoint: %v, want %v", got, want)
	}
}
