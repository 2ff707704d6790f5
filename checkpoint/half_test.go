package checkpoint

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestBF16FromFloat32Edges(t *testing.T) {
	for _, c := range []struct {
		name string
		in   uint32
		want uint16
	}{
		{"one", 0x3f800000, 0x3f80},
		{"tie to even, down", 0x3f808000, 0x3f80},
		{"tie to even, up", 0x3f818000, 0x3f82},
		{"just above a tie", 0x3f808001, 0x3f81},
		{"1.00585938 rounds up, not truncated", 0x3f80c000, 0x3f81},
		{"largest bfloat16", 0x7f7f0000, 0x7f7f},
		{"below the overflow tie", 0x7f7f7fff, 0x7f7f},
		{"overflow tie rounds to Inf", 0x7f7f8000, 0x7f80},
		{"MaxFloat32 rounds to Inf", 0x7f7fffff, 0x7f80},
		{"+Inf", 0x7f800000, 0x7f80},
		{"-Inf", 0xff800000, 0xff80},
		{"quiet NaN", 0x7fc00000, 0x7fc0},
		{"signalling NaN with low payload stays NaN", 0x7f800001, 0x7fc0},
		{"negative NaN", 0xff800001, 0xffc0},
		{"+0", 0, 0},
		{"-0", 0x80000000, 0x8000},
		{"smallest subnormal rounds to 0", 0x00000001, 0x0000},
		{"subnormal tie to even 0", 0x00008000, 0x0000},
		{"subnormal tie to even 2", 0x00018000, 0x0002},
		{"exact bfloat16 subnormal", 0x00010000, 0x0001},
		{"largest subnormal rounds to smallest normal", 0x007fffff, 0x0080},
		{"negative subnormal", 0x80018001, 0x8002},
	} {
		if got := BF16FromFloat32(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("%s: BF16FromFloat32(%#08x) = %#04x, want %#04x", c.name, c.in, got, c.want)
		}
	}
}

// bf16Reference rounds through float64 arithmetic: the nearer of the two
// neighbours, ties to the even one.
func bf16Reference(f float32) uint16 {
	u := math.Float32bits(f)
	lo := u &^ 0xffff
	hi := lo + 0x10000
	dlo := math.Abs(float64(f) - float64(math.Float32frombits(lo)))
	var dhi float64
	if hi&0x7fffffff >= 0x7f800000 {
		// hi is Inf: IEEE rounds there when f is at least halfway to 2^128
		dhi = math.Abs(math.Abs(float64(f)) - math.Ldexp(1, 128))
	} else {
		dhi = math.Abs(float64(f) - float64(math.Float32frombits(hi)))
	}
	switch {
	case dlo < dhi:
		return uint16(lo >> 16)
	case dhi < dlo:
		return uint16(hi >> 16)
	case (lo>>16)&1 == 0:
		return uint16(lo >> 16)
	}
	return uint16(hi >> 16)
}

func TestBF16MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		u := r.Uint32()
		if u&0x7f800000 == 0x7f800000 {
			continue // Inf and NaN have their own cases
		}
		f := math.Float32frombits(u)
		if got, want := BF16FromFloat32(f), bf16Reference(f); got != want {
			t.Fatalf("BF16FromFloat32(%#08x) = %#04x, want %#04x", u, got, want)
		}
	}
}

func TestHalfRoundTripEveryValue(t *testing.T) {
	for h := range 1 << 16 {
		b := uint16(h)
		bf, f := BF16ToFloat32(b), F16ToFloat32(b)
		if math.Float32bits(bf) != uint32(b)<<16 {
			t.Fatalf("BF16ToFloat32(%#04x) is not exact", b)
		}
		if isNaN32(bf) {
			if !isNaN32(BF16ToFloat32(BF16FromFloat32(bf))) {
				t.Fatalf("bfloat16 NaN %#04x lost", b)
			}
		} else if got := BF16FromFloat32(bf); got != b {
			t.Fatalf("bfloat16 %#04x → %v → %#04x", b, bf, got)
		}
		if isNaN32(f) {
			if !isNaN32(F16ToFloat32(F16FromFloat32(f))) {
				t.Fatalf("float16 NaN %#04x lost", b)
			}
		} else if got := F16FromFloat32(f); got != b {
			t.Fatalf("float16 %#04x → %v → %#04x", b, f, got)
		}
	}
}

func TestF16FromFloat32Edges(t *testing.T) {
	for _, c := range []struct {
		name string
		in   float32
		want uint16
	}{
		{"largest half", 65504, 0x7bff},
		{"below the overflow tie", 65519, 0x7bff},
		{"overflow tie rounds to Inf", 65520, 0x7c00},
		{"+Inf", float32(math.Inf(1)), 0x7c00},
		{"-Inf", float32(math.Inf(-1)), 0xfc00},
		{"smallest subnormal", float32(math.Ldexp(1, -24)), 0x0001},
		{"half the smallest subnormal ties to 0", float32(math.Ldexp(1, -25)), 0x0000},
		{"1.5 subnormals ties to even 2", float32(3 * math.Ldexp(1, -25)), 0x0002},
		{"1 + 2^-11 ties to even 1", 1 + float32(math.Ldexp(1, -11)), 0x3c00},
		{"1 + 3·2^-11 ties to even up", 1 + float32(3*math.Ldexp(1, -11)), 0x3c02},
		{"-0", float32(math.Copysign(0, -1)), 0x8000},
	} {
		if got := F16FromFloat32(c.in); got != c.want {
			t.Errorf("%s: F16FromFloat32(%v) = %#04x, want %#04x", c.name, c.in, got, c.want)
		}
	}
	if !isNaN32(F16ToFloat32(F16FromFloat32(float32(math.NaN())))) {
		t.Error("float16 NaN lost")
	}
}

func isNaN32(f float32) bool { return f != f }
