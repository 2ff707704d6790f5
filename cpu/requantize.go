package cpu

import (
	"fmt"
	"math"
	"sort"
)

// DoubleQuantizeFrom double-quantizes the scales of a weight just
// quantized from src (codes and absmax as Quantize wrote them, rows·cols
// values in blocks of blockSize).
//
// A weight that is not already a 4-bit dequantization gets bitsandbytes'
// double quantization (DoubleQuantize). One that is, exactly — every
// block equal to table[code]·s for one scale s per block, as a file
// written by nf4 quantize --double-quant and read back by nf4 dequantize
// is — is re-encoded so that the round trip is stable: quantizing,
// dequantizing and quantizing again gives the same bytes from the second
// round on. bitsandbytes' own rule cannot give that (the mean of decoded
// scales is not the offset they came from, so the offset, the nested
// scales and the error move every round). For such a weight the scales
// (signed: a block may decode negative) are encoded with offset 0, each
// nested block's absmax the least that reproduces its extremes, and each
// 8-bit code the one whose decoded value is nearest (lower code on a
// tie); the codes are then made the lowest that give each block's decoded
// values, and a block whose scale decodes to 0 gets the zero code. All of
// that is a fixed point of quantize∘dequantize, proved in the comments
// below and checked by the tests. codes may be rewritten in place.
//
// Blocks whose absmax is below 1e-38 (subnormal) are quantized by
// bitsandbytes' rule to codes that do not reach ±1, so their
// dequantization is not on the grid of its own absmax: a weight with such
// a block takes bitsandbytes' double quantization every round and shrinks
// a little each time, as bitsandbytes' would.
//
// Scales so large that their sum or a decoded scale overflows float32 are
// an error: the weight must keep plain scales.
func (q QuantType) DoubleQuantizeFrom(codes []byte, absmax []float32, src []float32, blockSize int) (Scales, error) {
	return checkedScales(doubleQuantizeFrom(q.table(), codes, absmax, src, blockSize))
}

// DoubleQuantizeFrom64 is DoubleQuantizeFrom for a float64 source, seen
// rounded to float32 as Quantize64 sees it.
func (q QuantType) DoubleQuantizeFrom64(codes []byte, absmax []float32, src []float64, blockSize int) (Scales, error) {
	return checkedScales(doubleQuantizeFrom(q.table(), codes, absmax, src, blockSize))
}

// checkedScales refuses double-quantized scales that did not survive
// float32: an offset or a decoded scale that is not finite.
func checkedScales(s Scales) (Scales, error) {
	bad := !finite32(s.Offset)
	for i := 0; i < s.Len() && !bad; i++ {
		bad = !finite32(s.At(i))
	}
	if bad {
		var top float32
		for _, v := range s.Nested {
			top = max(top, abs32(v))
		}
		return Scales{}, fmt.Errorf("double quantization overflows float32 (scales up to %v, their mean %v): keep plain scales for this weight", top, s.Offset)
	}
	return s, nil
}

func finite32(v float32) bool { return v-v == 0 }

func doubleQuantizeFrom[T float32 | float64](t *codeTable, codes []byte, absmax []float32, src []T, blockSize int) Scales {
	signed, ok := gridScales(t, codes, src, blockSize)
	if !ok {
		return DoubleQuantize(absmax)
	}
	s := requantScales(signed)
	n := len(src)
	for b, sb := range signed {
		d := s.At(b)
		for i := b * blockSize; i < min((b+1)*blockSize, n); i++ {
			c := t.zero
			if d != 0 && sb != 0 {
				g, _ := t.gridCode(code(codes, i), sb, float32(src[i])) // found by gridScales
				c = t.lowestCode(g, d)
			}
			setCode(codes, i, c)
		}
	}
	return s
}

func code(codes []byte, i int) uint8 { return codes[i/2] >> (4 * (i % 2)) & 15 }

func setCode(codes []byte, i int, c uint8) {
	shift := 4 * (i % 2)
	codes[i/2] = codes[i/2]&^(15<<shift) | c<<shift
}

// gridScales reports whether every block of src is exactly table[c]·s for
// one s per block, s = ±max|x| (a block of zeros has s = 0), and returns
// those signed scales. s = +max|x| is preferred where both signs fit.
func gridScales[T float32 | float64](t *codeTable, codes []byte, src []T, b int) ([]float32, bool) {
	n := len(src)
	signed := make([]float32, (n+b-1)/b)
	for blk := range signed {
		lo, hi := blk*b, min((blk+1)*b, n)
		var am float32
		for _, v := range src[lo:hi] {
			f := float32(v)
			if float64(f) != float64(v) {
				return nil, false // not even a float32
			}
			am = max(am, abs32(f))
		}
		if am == 0 {
			continue
		}
		found := false
		for _, s := range []float32{am, -am} {
			found = true
			for i := lo; i < hi && found; i++ {
				_, found = t.gridCode(code(codes, i), s, float32(src[i]))
			}
			if found {
				signed[blk] = s
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return signed, true
}

// gridCode returns the lowest code c with table[c]·s == x (rounded to
// float32), trying hint, the code quantize chose, first: it is almost
// always the one.
func (t *codeTable) gridCode(hint uint8, s, x float32) (uint8, bool) {
	if float32(t.values[hint]*s) == x {
		return t.lowestCode(hint, s), true
	}
	for c := range uint8(16) {
		if float32(t.values[c]*s) == x {
			return c, true
		}
	}
	return 0, false
}

// lowestCode returns the lowest code whose value times s equals that of c.
func (t *codeTable) lowestCode(c uint8, s float32) uint8 {
	v := float32(t.values[c] * s)
	for l := range c {
		if float32(t.values[l]*s) == v {
			return l
		}
	}
	return c
}

// requantScales encodes signed scales with offset 0 so that decoding and
// encoding again gives the same bytes (see DoubleQuantizeFrom). With
// d(c) = map[c]·m rounded (the decoded value of code c under nested scale
// m), the codes are chosen by nearest d(c), so a decoded value encodes to
// the code it came from (distance 0; the lowest of equal values, which is
// the one chosen). Each nested block's m is the least value that keeps its
// largest positive scale P (d(255) = m) and its most negative one −N
// (d(0) = −round(|map[0]|·m) ≥ N in size) within reach: m = max(P, μ(N))
// with μ(N) the least m for which round(|map[0]|·m) ≥ N. The decoded
// extremes are then m itself and −round(|map[0]|·m), and μ of the latter
// is m again (a smaller value would already have satisfied μ(N)), so m is
// reproduced.
func requantScales(s []float32) Scales {
	m := &dynamicMap
	k := -m[0] // |map[0]|, the most negative entry's size
	nested := make([]float32, (len(s)+NestedBlockSize-1)/NestedBlockSize)
	q := make([]uint8, len(s))
	for b := range nested {
		blk := s[b*NestedBlockSize : min((b+1)*NestedBlockSize, len(s))]
		var pos, neg float32
		for _, v := range blk {
			pos = max(pos, v)
			neg = max(neg, -v)
		}
		mb := max(pos, leastScale(k, neg))
		nested[b] = mb
		var dec [256]float32
		for c := range dec {
			dec[c] = float32(m[c]*mb) + 0
		}
		for i, v := range blk {
			q[b*NestedBlockSize+i] = nearestDecoded(&dec, v)
		}
	}
	return Scales{Q: q, Nested: nested, Offset: 0, Map: m}
}

// leastScale returns the least float32 m ≥ 0 with round(k·m) ≥ n, or
// MaxFloat32 if none is finite.
func leastScale(k, n float32) float32 {
	if n <= 0 {
		return 0
	}
	x := float32(math.Min(float64(n)/float64(k), math.MaxFloat32))
	for float32(k*x) < n {
		if x == math.MaxFloat32 {
			return x
		}
		x = math.Nextafter32(x, float32(math.Inf(1)))
	}
	for x > 0 {
		p := math.Nextafter32(x, 0)
		if float32(k*p) < n {
			break
		}
		x = p
	}
	return x
}

// nearestDecoded returns the code whose decoded value (dec, ascending) is
// nearest v, the lowest code on a tie or among equal values.
func nearestDecoded(dec *[256]float32, v float32) uint8 {
	hi := sort.Search(len(dec), func(i int) bool { return dec[i] >= v })
	if hi == len(dec) {
		hi--
	}
	best := hi
	for best > 0 && dec[best-1] == dec[hi] {
		best--
	}
	if hi > 0 && dec[hi] > v {
		lo := hi - 1
		for lo > 0 && dec[lo-1] == dec[hi-1] {
			lo--
		}
		if float64(v)-float64(dec[lo]) <= float64(dec[hi])-float64(v) {
			best = lo
		}
	}
	return uint8(best)
}
