package ptxsim

import (
	"math"
	"math/big"
	"math/rand"
	"testing"
)

// Every adjacent pair of finite f16 (and bf16) values: the values round-trip,
// the exact midpoint goes to the even one, and the nearest float64s on either
// side of the midpoint go to their side. Directed modes go to the right
// neighbour just inside the interval.
func checkSmallFormat(t *testing.T, name string, toBits func(float64, rmode) uint16, toF64 func(uint16) float64, maxFinite uint16) {
	for h := uint16(0); h < maxFinite; h++ {
		for _, sgn := range []uint16{0, 0x8000} {
			lo, hi := h|sgn, (h+1)|sgn
			vlo, vhi := toF64(lo), toF64(hi)
			if got := toBits(vlo, rmRN); got != lo && !(h == 0 && sgn != 0) {
				t.Fatalf("%s: %#04x does not round-trip (got %#04x)", name, lo, got)
			}
			mid := (vlo + vhi) / 2
			even := lo
			if lo&1 == 1 {
				even = hi
			}
			if got := toBits(mid, rmRN); got != even {
				t.Fatalf("%s: midpoint of %#04x,%#04x gave %#04x", name, lo, hi, got)
			}
			below := math.Nextafter(mid, vlo)
			above := math.Nextafter(mid, vhi)
			if toBits(below, rmRN) != lo || toBits(above, rmRN) != hi {
				t.Fatalf("%s: near midpoint of %#04x,%#04x", name, lo, hi)
			}
			if toBits(above, rmRZ) != lo || toBits(mid, rmRNA) != hi {
				t.Fatalf("%s: rz/rna between %#04x,%#04x", name, lo, hi)
			}
			up, down := hi, lo
			if sgn != 0 {
				up, down = lo, hi
			}
			if toBits(mid, rmRP) != up || toBits(mid, rmRM) != down {
				t.Fatalf("%s: rp/rm between %#04x,%#04x", name, lo, hi)
			}
		}
	}
}

func TestHalfRounding(t *testing.T) {
	checkSmallFormat(t, "f16", toHalf, halfToF64, 0x7bff)
	if toHalf(math.NaN(), rmRN)&0x7c00 != 0x7c00 || toHalf(math.NaN(), rmRN)&0x3ff == 0 {
		t.Error("NaN does not stay NaN in f16")
	}
}

func TestBF16Rounding(t *testing.T) {
	checkSmallFormat(t, "bf16", toBF16, func(h uint16) float64 { return float64(bf16ToF32(h)) }, 0x7f7f)
	if toBF16(math.Inf(-1), rmRN) != 0xff80 || toBF16(math.MaxFloat32, rmRN) != 0x7f80 || toBF16(math.MaxFloat32, rmRZ) != 0x7f7f {
		t.Error("bf16 infinities or overflow")
	}
}

func TestTF32Rounding(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 100000; i++ {
		x := math.Float32frombits(r.Uint32())
		if x != x || math.IsInf(float64(x), 0) {
			continue
		}
		got := toTF32(float64(x), rmRNA)
		// reference: add half an ulp of the 10-bit mantissa, truncate
		b := math.Float32bits(x)
		want := (b + 0x1000) &^ 0x1fff
		if b&0x7f800000 == 0x7f800000 || (b+0x1000)&0x7f800000 == 0x7f800000 {
			continue // overflow to inf: checked by roundBits' overflow path
		}
		if got != want {
			t.Fatalf("tf32 rna of %#08x: got %#08x want %#08x", b, got, want)
		}
		if n := toTF32(float64(x), rmRN); n != (b+0xfff+(b>>13)&1)&^0x1fff {
			t.Fatalf("tf32 rn of %#08x: got %#08x", b, n)
		}
		if z := toTF32(float64(x), rmRZ); z != b&^0x1fff {
			t.Fatalf("tf32 rz of %#08x: got %#08x", b, z)
		}
	}
}

// refRound rounds an exact big.Float to float32 in mode m; ok is false
// outside the normal range, where big.Float does not model subnormals.
func refRound(x *big.Float, m rmode) (float32, bool) {
	mode := map[rmode]big.RoundingMode{rmRN: big.ToNearestEven, rmRZ: big.ToZero, rmRM: big.ToNegativeInf, rmRP: big.ToPositiveInf}[m]
	y := new(big.Float).SetMode(mode).SetPrec(24).Set(x)
	f, _ := y.Float64()
	a := math.Abs(f)
	if a != 0 && (a < 0x1p-126 || a > math.MaxFloat32) {
		return 0, false
	}
	return float32(f), true
}

func TestFMAAndAddRounding(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	rnd := func() float32 {
		// mantissas near ties and exponents close enough to interact
		return float32(math.Ldexp(float64(r.Int63n(1<<24)|1<<23), r.Intn(60)-80)) * float32(1-2*r.Intn(2))
	}
	for i := 0; i < 50000; i++ {
		a, b, c := rnd(), rnd(), rnd()
		for _, m := range []rmode{rmRN, rmRZ, rmRM, rmRP} {
			p := float64(a) * float64(b)
			s, e := twoSum(p, float64(c))
			got := round32(s, e, m)
			exact := new(big.Float).SetPrec(200).SetFloat64(float64(a))
			exact.Mul(exact, new(big.Float).SetFloat64(float64(b)))
			exact.Add(exact, new(big.Float).SetFloat64(float64(c)))
			want, ok := refRound(exact, m)
			if ok && got != want && !(got == 0 && want == 0) {
				t.Fatalf("fma(%g,%g,%g) mode %d: got %g want %g", a, b, c, m, got, want)
			}
			s, e = twoSum(float64(a), float64(c))
			got = round32(s, e, m)
			exact.SetFloat64(float64(a)).Add(exact, new(big.Float).SetFloat64(float64(c)))
			want, ok = refRound(exact, m)
			if ok && got != want && !(got == 0 && want == 0) {
				t.Fatalf("add(%g,%g) mode %d: got %g want %g", a, c, m, got, want)
			}
		}
	}
}
