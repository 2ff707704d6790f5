package cpu

import (
	"fmt"
	"math"
)

// QuantType names a 4-bit code table: code c of a block with scale s
// decodes to Values()[c]·s. The zero value is NF4.
//
// Kernels never hard-code a table: every one takes the table it decodes
// with (or quantizes to) as a pointer argument, taken from the weight's
// QuantType (see codeTable), so a second table needs no second kernel.
type QuantType uint8

// The code tables bitsandbytes writes.
const (
	NF4 QuantType = iota // QLoRA's NormalFloat: 16 quantiles of N(0, 1), ascending
	FP4                  // a 4-bit float (1 sign, 2 exponent, 1 mantissa bit) scaled to [-1, 1]
)

// QuantTypes lists the supported code tables.
func QuantTypes() []QuantType { return []QuantType{NF4, FP4} }

// String returns the name bitsandbytes records ("nf4", "fp4").
func (q QuantType) String() string {
	switch q {
	case NF4:
		return "nf4"
	case FP4:
		return "fp4"
	}
	return fmt.Sprintf("QuantType(%d)", uint8(q))
}

// ParseQuantType maps a bitsandbytes name back to its QuantType.
func ParseQuantType(s string) (QuantType, error) {
	for _, q := range QuantTypes() {
		if q.String() == s {
			return q, nil
		}
	}
	return 0, fmt.Errorf("quant type %q not supported: want \"nf4\" or \"fp4\"", s)
}

// Valid reports whether q is one of QuantTypes.
func (q QuantType) Valid() bool { return q <= FP4 }

// Values returns the 16 values of the table, indexed by code. The array
// is shared: do not modify it.
func (q QuantType) Values() *[16]float32 { return &q.table().values }

// ZeroCode returns the code a zero (and an all-zero block) gets: 7 for
// NF4, 0 for FP4.
func (q QuantType) ZeroCode() uint8 { return q.table().zero }

// Code returns the code of v, a value already multiplied by its block's
// reciprocal scale: the number of table midpoints strictly below v
// (torch.bucketize; a value equal to a midpoint takes the lower code),
// mapped through the table's sort order.
func (q QuantType) Code(v float32) uint8 { return q.table().code(v) }

// Codebook holds the 16 NF4 values (QLoRA's NormalFloat), ascending.
// Index 7 is exactly zero and index 15 exactly one.
var Codebook = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

// FP4Values is bitsandbytes' FP4 table (get_4bit_type("fp4")) by code:
// bit 3 is the sign, and the magnitudes 0, 0.0625, 8, 12, 4, 6, 2, 3 are
// divided by 12 in float32. Codes 0 and 8 are both +0.0 (as in the table
// bitsandbytes' torch and AVX-512 kernels use).
var FP4Values = func() (v [16]float32) {
	mags := [8]float32{0, 0.0625, 8, 12, 4, 6, 2, 3}
	for i, m := range mags {
		v[i] = m / 12
		v[8+i] = -m / 12
	}
	v[8] = 0 // -0/12 would be -0.0; bitsandbytes builds this entry from the integer -0
	return v
}()

// ZeroCode is the NF4 code of 0.0; an all-zero NF4 block is made of it.
const ZeroCode = 7

// MinScale is the floor bitsandbytes puts under a block's absmax before
// taking its reciprocal (absmax.clamp(min=1e-38)), rounded to float32:
// an all-zero block then scales by a finite 1e38 and gets the zero code.
const MinScale float32 = 1e-38

// Midpoints are NF4's decision thresholds, as bitsandbytes computes them:
// (c[i] + c[i+1]) / 2 in float32. A scaled value v gets the number of
// midpoints strictly below it as its code.
var Midpoints = tables[NF4].bounds

// NearestCode returns the NF4 code of v, a value already multiplied by its
// block's reciprocal scale (see QuantType.Code).
func NearestCode(v float32) uint8 { return tables[NF4].code(v) }

// codeTable is one QuantType with everything the kernels derive from it.
type codeTable struct {
	values [16]float32
	// order[i] is the code of the i-th smallest value (ties keep the lower
	// code first, as a stable sort does), and bounds the float32 midpoints
	// between neighbours in that order.
	order  [16]uint8
	bounds [15]float32
	// keys are the bounds as orderKey values, for rank.
	keys [15]int64
	zero uint8
	// nibbles maps a code byte c to its two values: nibbles[c] is its low
	// nibble's, nibbles[256+c] its high one's. Indexed by the byte itself,
	// both lookups compile to one scaled load each, folded into the
	// multiply (a [256][2] table needs an address computed per lookup).
	nibbles   [512]float32
	nibbles64 [512]float64
	// planes feeds the decode-dot kernels: row j holds byte j of each
	// value (repeated for both 128-bit lanes, as VPSHUFB looks up within
	// lanes), row 4 the nibble mask.
	planes [5][32]byte
	// quant and quant512 feed the vector quantizers (see quantConsts
	// and quantConsts512).
	quant    quantConsts
	quant512 quantConsts512
}

var tables = [...]*codeTable{NF4: newCodeTable(Codebook), FP4: newCodeTable(FP4Values)}

func (q QuantType) table() *codeTable {
	if !q.Valid() {
		q = NF4 // callers check Valid first; never index out of range
	}
	return tables[q]
}

func newCodeTable(values [16]float32) *codeTable {
	t := &codeTable{values: values}
	for i := range t.order {
		t.order[i] = uint8(i)
	}
	// Insertion sort is stable: equal values keep the lower code first.
	for i := 1; i < 16; i++ {
		for j := i; j > 0 && values[t.order[j]] < values[t.order[j-1]]; j-- {
			t.order[j], t.order[j-1] = t.order[j-1], t.order[j]
		}
	}
	for i := range t.bounds {
		t.bounds[i] = (values[t.order[i]] + values[t.order[i+1]]) / 2
	}
	for i, b := range t.bounds {
		t.keys[i] = orderKey(b)
	}
	t.zero = t.code(0)
	for b := range 256 {
		t.nibbles[b], t.nibbles[256+b] = values[b&15], values[b>>4]
		t.nibbles64[b], t.nibbles64[256+b] = float64(values[b&15]), float64(values[b>>4])
	}
	for v, f := range values {
		bits := math.Float32bits(f)
		for j := range 4 {
			t.planes[j][v] = byte(bits >> (8 * j))
			t.planes[j][16+v] = t.planes[j][v]
		}
	}
	for i := range t.planes[4] {
		t.planes[4][i] = 0x0f
	}
	t.quant = newQuantConsts(t)
	t.quant512 = newQuantConsts512(t)
	return t
}

// code maps v to the code of its nearest value (see QuantType.Code).
func (t *codeTable) code(v float32) uint8 { return t.order[rank(&t.keys, orderKey(v))] }

// orderKey maps a float32 that is not NaN to an integer in the same order,
// so that comparisons become subtractions: -0 lands just below +0, which
// no bound separates (a bound is a midpoint of two distinct values, and
// the midpoint of -0 and +0 is +0).
func orderKey(f float32) int64 {
	b := int64(int32(math.Float32bits(f)))
	return b ^ (b >> 63 & 0x7fffffff) // negative: flip the magnitude
}

// rank counts the keys strictly below k with a four-level search. It is
// written without branches (random weights would mispredict every level)
// and without flags: each level's comparison is the sign of a
// subtraction, which keeps the two searches encode runs side by side
// independent (a flag move into a byte register would chain them).
func rank(keys *[15]int64, k int64) uint {
	c := uint((keys[7]-k)>>63) & 8
	c += uint((keys[c+3]-k)>>63) & 4
	c += uint((keys[c+1]-k)>>63) & 2
	return (c + uint((keys[c]-k)>>63)&1) & 15
}
