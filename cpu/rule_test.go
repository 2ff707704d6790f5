package cpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// The quantize rule written plainly, the way bitsandbytes' pure-torch
// quantize_4bit states it: a stable sort of the table, float32 midpoints
// (a+b)/2 between neighbours, torch.bucketize (how many midpoints lie
// strictly below) by a linear scan, and the sort order back to codes.

type refTable struct {
	order []int
	mids  []float32
}

func newRefTable(q QuantType) refTable {
	vals := *q.Values()
	order := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	sort.SliceStable(order, func(a, b int) bool { return vals[order[a]] < vals[order[b]] })
	var mids []float32
	for i := 0; i+1 < 16; i++ {
		sum := vals[order[i]] + vals[order[i+1]]
		mids = append(mids, sum/2)
	}
	return refTable{order, mids}
}

func (t refTable) code(v float32) uint8 {
	n := 0
	for _, m := range t.mids {
		if m < v {
			n++
		}
	}
	return uint8(t.order[n])
}

// refQuantize applies the rule to the flattened values: full blocks
// multiply by the float32 reciprocal of the clamped absmax and store the
// absmax itself; the partial last block divides by the clamped absmax and
// stores that; an odd count pads with the code of 0.
func refQuantize(q QuantType, src []float32, b int) ([]byte, []float32) {
	t := newRefTable(q)
	n := len(src)
	codes := make([]byte, (n+1)/2)
	var absmax []float32
	for start := 0; start < n; start += b {
		end := min(start+b, n)
		var am float32
		for _, v := range src[start:end] {
			am = max(am, float32(math.Abs(float64(v))))
		}
		clamped := max(am, float32(1e-38))
		recip := 1 / clamped
		partial := end-start < b
		if partial {
			absmax = append(absmax, clamped)
		} else {
			absmax = append(absmax, am)
		}
		for i := start; i < end; i++ {
			var v float32
			if partial {
				v = src[i] / clamped
			} else {
				v = src[i] * recip
			}
			codes[i/2] |= t.code(v) << (4 * (i % 2))
		}
	}
	if n%2 == 1 {
		codes[n/2] |= t.code(0) << 4
	}
	return codes, absmax
}

func TestQuantTypeTables(t *testing.T) {
	if got := newRefTable(NF4).order; !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) {
		t.Errorf("NF4 sort order %v, want the identity", got)
	}
	// torch.argsort of bitsandbytes' FP4 table (torch 1.13, as in the
	// golden files): ties at +0.0 keep code 0 before code 8.
	want := []uint8{11, 10, 13, 12, 15, 14, 9, 0, 8, 1, 6, 7, 4, 5, 2, 3}
	if got := tables[FP4].order[:]; !slices.Equal(got, want) {
		t.Errorf("FP4 sort order %v, want %v", got, want)
	}
	fp4 := []float32{0, 0.0625, 8, 12, 4, 6, 2, 3}
	for i, m := range fp4 {
		if p, n := FP4Values[i], FP4Values[8+i]; p != m/12 || n != -m/12 || math.Signbit(float64(FP4Values[8])) {
			t.Errorf("FP4 codes %d/%d are %v/%v, want ±%v/12 (code 8 +0.0)", i, 8+i, p, n, m)
		}
	}
	if NF4.ZeroCode() != ZeroCode || FP4.ZeroCode() != 0 {
		t.Errorf("zero codes %d, %d; want 7, 0", NF4.ZeroCode(), FP4.ZeroCode())
	}
	for i := range 15 {
		if Midpoints[i] != (Codebook[i]+Codebook[i+1])/2 {
			t.Errorf("midpoint %d is %v", i, Midpoints[i])
		}
	}
	for _, s := range []string{"nf4", "fp4"} {
		if q, err := ParseQuantType(s); err != nil || q.String() != s {
			t.Errorf("ParseQuantType(%q) = %v, %v", s, q, err)
		}
	}
	if _, err := ParseQuantType("int4"); err == nil {
		t.Error("int4 accepted")
	}
}

// TestCodeMatchesReference: the branch-free search gives the reference's
// code at every midpoint and its neighbours, at the table's own values,
// and on random values.
func TestCodeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, q := range QuantTypes() {
		ref := newRefTable(q)
		var vs []float32
		for _, m := range ref.mids {
			vs = append(vs, neighbours(m, 3)...)
		}
		for _, v := range q.Values() {
			vs = append(vs, neighbours(v, 2)...)
		}
		vs = append(vs, 0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, 2, -2)
		for range 100000 {
			vs = append(vs, float32(r.Float64()*2.2-1.1))
		}
		for _, v := range vs {
			if got, want := q.Code(v), ref.code(v); got != want {
				t.Fatalf("%v: Code(%v) = %d, want %d", q, v, got, want)
			}
		}
		// A value equal to a midpoint takes the lower code.
		for i, m := range ref.mids {
			if got := q.Code(m); got != uint8(ref.order[i]) {
				t.Fatalf("%v: midpoint %d (%v) went to code %d, want %d", q, i, m, got, ref.order[i])
			}
		}
	}
}

// neighbours returns v and its k float32 neighbours on either side.
func neighbours(v float32, k int) []float32 {
	out := []float32{v}
	lo, hi := v, v
	for range k {
		lo, hi = math.Nextafter32(lo, float32(math.Inf(-1))), math.Nextafter32(hi, float32(math.Inf(1)))
		out = append(out, lo, hi)
	}
	return out
}

// ruleCorpus builds values that exercise every corner of the rule: block
// maxima at midpoints times A for small, subnormal, huge and ordinary A,
// all-zero and negative-zero blocks, subnormal blocks and normal data.
func ruleCorpus(r *rand.Rand, q QuantType, b int) []float32 {
	ref := newRefTable(q)
	var out []float32
	addBlock := func(a float32, vals []float32) {
		for len(vals) > 0 {
			n := min(b-1, len(vals))
			out = append(out, a)
			out = append(out, vals[:n]...)
			for range b - 1 - n {
				out = append(out, float32(r.Float64()*2-1)*a)
			}
			vals = vals[n:]
		}
	}
	for _, a := range []float32{1, 0.5, 3, 0.1, 123.456, 1e-20, 1e20, 2e-38, 1.2e-38, 8e-39, 1e-40, 8.6e37, 1e38, 3e38, math.MaxFloat32} {
		var vals []float32
		for _, m := range ref.mids {
			for _, v := range neighbours(m*a, 2) {
				if math.Abs(float64(v)) <= float64(a) {
					vals = append(vals, v, -v)
				}
			}
			for _, v := range neighbours(float32(float64(m)*float64(a)), 1) {
				if math.Abs(float64(v)) <= float64(a) {
					vals = append(vals, v)
				}
			}
		}
		addBlock(a, vals)
		addBlock(-a, vals) // the max-magnitude element negative
	}
	for range b {
		out = append(out, 0)
	}
	for range b {
		out = append(out, float32(math.Copysign(0, -1)))
	}
	for range b {
		out = append(out, float32(r.NormFloat64()*1e-41))
	}
	for range 8 * b {
		out = append(out, float32(r.NormFloat64()))
	}
	return out
}

// TestQuantizeMatchesReference compares every kernel set with the plain
// rule, byte for byte, on row-aligned, row-spanning and partial layouts.
func TestQuantizeMatchesReference(t *testing.T) {
	eachVariant(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(23, 24))
		for _, q := range QuantTypes() {
			for _, b := range []int{32, 64, 256} {
				src := ruleCorpus(r, q, b)
				for _, cut := range []int{0, 40, 1} { // whole blocks, a partial last block, an odd count
					vals := src[:len(src)-cut]
					rows, cols := 1, len(vals)
					if cut == 0 {
						rows, cols = len(vals)/b, b
					}
					wantC, wantA := refQuantize(q, vals, b)
					codes := make([]byte, (len(vals)+1)/2)
					absmax := make([]float32, (len(vals)+b-1)/b)
					if err := q.Quantize(codes, absmax, offsetCopy(vals, 1), rows, cols, b); err != nil {
						t.Fatal(err)
					}
					if i := firstDiff(codes, wantC); i >= 0 {
						t.Fatalf("%v B=%d cut %d: code byte %d is %#02x, want %#02x (values %v, %v; absmax %v)", q, b, cut, i, codes[i], wantC[i], vals[2*i], vals[min(2*i+1, len(vals)-1)], wantA[2*i/b])
					}
					if i := firstDiff(absmax, wantA); i >= 0 {
						t.Fatalf("%v B=%d cut %d: absmax %d is %v, want %v", q, b, cut, i, absmax[i], wantA[i])
					}
				}
			}
		}
	})
}

// FuzzQuantizeRule holds every kernel set to the plain rule on arbitrary
// float32 bit patterns, shapes and both code tables, and checks that a NaN
// or Inf is reported where it is.
func FuzzQuantizeRule(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 191}, uint8(0), uint8(3), false)
	f.Add(make([]byte, 4*100), uint8(1), uint8(7), true)
	f.Fuzz(func(t *testing.T, raw []byte, shift, colsSeed uint8, fp4 bool) {
		b := 32 << (shift % 3)
		vals := floatsFrom(raw)
		if len(vals) == 0 {
			return
		}
		cols := 1 + int(colsSeed)%len(vals)
		rows := len(vals) / cols
		vals = vals[:rows*cols]
		q := NF4
		if fp4 {
			q = FP4
		}
		bad := slices.IndexFunc(vals, func(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) })
		wantC, wantA := refQuantize(q, vals, b)
		underEverySet(func() {
			codes := make([]byte, (len(vals)+1)/2)
			absmax := make([]float32, (len(vals)+b-1)/b)
			err := q.Quantize(codes, absmax, vals, rows, cols, b)
			if bad >= 0 {
				var nf *NonFiniteError
				if !errors.As(err, &nf) || nf.Row*cols+nf.Col != bad || math.Float64bits(nf.Value) != math.Float64bits(float64(vals[bad])) {
					t.Fatalf("%s: non-finite at %d: got %v", Kernels(), bad, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if i := firstDiff(codes, wantC); i >= 0 {
				t.Fatalf("%s %v B=%d [%d %d]: code byte %d %#02x, want %#02x", Kernels(), q, b, rows, cols, i, codes[i], wantC[i])
			}
			if i := firstDiff(absmax, wantA); i >= 0 {
				t.Fatalf("%s %v B=%d: absmax %d %v, want %v", Kernels(), q, b, i, absmax[i], wantA[i])
			}
		})
	})
}

// TestDequantizeFlatLayouts: with blocks spanning rows, a partial last
// block and an odd count, every kernel set decodes each value as
// table[code]·scale of its flat block.
func TestDequantizeFlatLayouts(t *testing.T) {
	eachVariant(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(25, 26))
		for _, q := range QuantTypes() {
			for _, sh := range []struct{ rows, cols, b int }{{64, 96, 64}, {10, 100, 64}, {1, 4097, 32}, {7, 33, 256}} {
				n := sh.rows * sh.cols
				src := make([]float32, n)
				for i := range src {
					src[i] = float32(r.NormFloat64())
				}
				w := &Weights{Rows: sh.rows, Cols: sh.cols, BlockSize: sh.b, Type: q, Codes: make([]byte, (n+1)/2)}
				absmax := make([]float32, (n+sh.b-1)/sh.b)
				if err := q.Quantize(w.Codes, absmax, src, sh.rows, sh.cols, sh.b); err != nil {
					t.Fatal(err)
				}
				for _, double := range []bool{false, true} {
					w.Scales = Scales{Absmax: absmax}
					if double {
						w.Scales = DoubleQuantize(absmax)
					}
					got := make([]float32, n)
					if err := Dequantize(got, w); err != nil {
						t.Fatal(err)
					}
					got64 := make([]float64, n)
					if err := Dequantize64(got64, w); err != nil {
						t.Fatal(err)
					}
					for i := range got {
						want := q.Values()[code(w.Codes, i)] * w.Scales.At(i/sh.b)
						if math.Float32bits(got[i]) != math.Float32bits(want) || got64[i] != float64(want) {
							t.Fatalf("%v %+v double=%v: value %d is %v (%v), want %v", q, sh, double, i, got[i], got64[i], want)
						}
					}
					if err := Linear(make([]float32, sh.rows), make([]float32, sh.cols), 1, w); (err == nil) != (sh.cols%sh.b == 0) {
						t.Errorf("%+v: Linear error %v", sh, err)
					}
				}
			}
		}
	})
}
