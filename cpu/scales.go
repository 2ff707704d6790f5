package cpu

import (
	"fmt"
	"math"
)

// NestedBlockSize is the number of first-level scales that share one
// second-level scale under double quantization (bitsandbytes' value).
const NestedBlockSize = 256

// Scales holds one absmax per block: either plainly (Absmax) or
// double-quantized (QLoRA): scale[i] = Map[Q[i]]*Nested[i/256] + Offset.
// Exactly one of Absmax and Q is set.
type Scales struct {
	Absmax []float32

	Q      []uint8
	Nested []float32
	Offset float32
	Map    *[256]float32
}

// Double reports whether the scales are double-quantized.
func (s *Scales) Double() bool { return s.Q != nil }

// Len returns the number of blocks the scales cover.
func (s *Scales) Len() int {
	if s.Double() {
		return len(s.Q)
	}
	return len(s.Absmax)
}

// At decodes the scale of block i. A double-quantized scale is the
// float32 product, rounded, plus the offset, rounded again, as bitsandbytes
// computes it (dequantize_blockwise, then += offset): the explicit
// conversion keeps the compiler from fusing the two into one multiply-add
// on builds that have FMA, which would change the bits.
func (s *Scales) At(i int) float32 {
	if s.Q == nil {
		return s.Absmax[i]
	}
	return float32(s.Map[s.Q[i]]*s.Nested[i/NestedBlockSize]) + s.Offset
}

// Expand writes every scale into dst, which must hold Len() values.
func (s *Scales) Expand(dst []float32) {
	if s.Q == nil {
		copy(dst, s.Absmax)
		return
	}
	for i := range s.Q {
		dst[i] = s.At(i)
	}
}

// Bytes returns the memory the scales take.
func (s *Scales) Bytes() int {
	if s.Q == nil {
		return 4 * len(s.Absmax)
	}
	n := len(s.Q) + 4*len(s.Nested) + 4
	if s.Map != &dynamicMap {
		n += 4 * len(s.Map) // a map of its own, e.g. read from a file
	}
	return n
}

func (s *Scales) check(blocks int) error {
	if s.Q == nil {
		if len(s.Absmax) != blocks {
			return fmt.Errorf("scales: have %d, want one per block (%d)", len(s.Absmax), blocks)
		}
		return nil
	}
	if len(s.Q) != blocks {
		return fmt.Errorf("double-quantized scales: have %d codes, want one per block (%d)", len(s.Q), blocks)
	}
	if want := (blocks + NestedBlockSize - 1) / NestedBlockSize; len(s.Nested) != want {
		return fmt.Errorf("double-quantized scales: have %d nested scales, want %d", len(s.Nested), want)
	}
	if s.Map == nil {
		return fmt.Errorf("double-quantized scales: no 8-bit map")
	}
	return nil
}

// DoubleQuantize compresses absmax as bitsandbytes' CPU install does
// (quantize_4bit with compress_statistics=True), with DynamicMap as the
// 8-bit map: see DoubleQuantizeWithMap. The absmax values must be finite
// and their sum must not overflow float32 (QuantType.DoubleQuantizeFrom
// checks that).
func DoubleQuantize(absmax []float32) Scales {
	return doubleQuantize(absmax, &dynamicMap, dynamicLUT())
}

// DoubleQuantizeWithMap compresses absmax as bitsandbytes' CPU install
// does, with the ascending 256-entry map m (a file's nested_quant_map, say):
// the offset is torch's float32 absmax.mean() (see torchMean), and
// absmax − offset, in nested blocks of 256, is quantized by bitsandbytes'
// C++ kernel (cquantize_blockwise_cpu_fp32): each nested block keeps its
// float32 max|v|, and every value the 8-bit code the kernel's 65536-entry
// lookup table gives for v/max|v| (see buildLUT). A nested block of zeros
// stores absmax 0 and code 0, as that kernel does. The scales keep m.
func DoubleQuantizeWithMap(absmax []float32, m *[256]float32) Scales {
	if m == &dynamicMap || *m == dynamicMap {
		return DoubleQuantize(absmax)
	}
	mm := *m
	return doubleQuantize(absmax, &mm, buildLUT(&mm))
}

func doubleQuantize(absmax []float32, m *[256]float32, lut *[lutSize]uint8) Scales {
	offset := torchMean(absmax)
	nested := make([]float32, (len(absmax)+NestedBlockSize-1)/NestedBlockSize)
	q := make([]uint8, len(absmax))
	v := make([]float32, NestedBlockSize)
	for b := range nested {
		blk := absmax[b*NestedBlockSize : min((b+1)*NestedBlockSize, len(absmax))]
		var amax float32
		for i, a := range blk {
			v[i] = a - offset
			amax = max(amax, abs32(v[i]))
		}
		nested[b] = amax
		if amax == 0 {
			continue // codes 0
		}
		inv := 1 / amax
		for i := range blk {
			q[b*NestedBlockSize+i] = lut[lutIndex(v[i]*inv)]
		}
	}
	return Scales{Q: q, Nested: nested, Offset: offset, Map: m}
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
