package cpu

import (
	"fmt"
	"math"
	"sort"
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

// DynamicMap returns bitsandbytes' signed dynamic 8-bit map
// (create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)):
// 256 ascending values in [-1, 1] with 0 and 1 exact, dense near zero.
// The arithmetic follows torch's float32 linspace so the values agree.
func DynamicMap() *[256]float32 {
	m := dynamicMap
	return &m
}

var dynamicMap = func() (m [256]float32) {
	data := make([]float32, 0, 256)
	for i := range 7 {
		steps := 1<<i + 1
		bounds := linspace32(0.1, 1, steps)
		scale := float32(math.Pow(10, float64(i-6)))
		for j := 0; j+1 < steps; j++ {
			mean := (bounds[j] + bounds[j+1]) / 2
			data = append(data, scale*mean, -scale*mean)
		}
	}
	data = append(data, 0, 1)
	sort.Slice(data, func(a, b int) bool { return data[a] < data[b] })
	copy(m[:], data)
	return m
}()

// linspace32 mirrors torch.linspace on float32: the first half counts up
// from start, the second half down from end.
func linspace32(start, end float32, steps int) []float32 {
	out := make([]float32, steps)
	if steps == 1 {
		out[0] = start
		return out
	}
	step := (end - start) / float32(steps-1)
	half := steps / 2
	for i := range out {
		if i < half {
			out[i] = start + step*float32(i)
		} else {
			out[i] = end - step*float32(steps-i-1)
		}
	}
	return out
}

// DoubleQuantize compresses absmax as bitsandbytes does: subtract the mean,
// then quantize blocks of 256 to the nearest entry of the dynamic map (ties
// to the lower index) with one float32 absmax per nested block.
func DoubleQuantize(absmax []float32) Scales {
	var sum float64
	for _, a := range absmax {
		sum += float64(a)
	}
	offset := float32(0)
	if len(absmax) > 0 {
		offset = float32(sum / float64(len(absmax)))
	}
	m := &dynamicMap // shared by every tensor; nothing writes to it
	nested := make([]float32, (len(absmax)+NestedBlockSize-1)/NestedBlockSize)
	q := make([]uint8, len(absmax))
	for b := range nested {
		blk := absmax[b*NestedBlockSize : min((b+1)*NestedBlockSize, len(absmax))]
		var amax float32
		for _, a := range blk {
			amax = max(amax, abs32(a-offset))
		}
		nested[b] = amax
		inv := float32(0)
		if amax > 0 {
			inv = 1 / amax
		}
		for i, a := range blk {
			q[b*NestedBlockSize+i] = nearestIndex(m, (a-offset)*inv)
		}
	}
	return Scales{Q: q, Nested: nested, Offset: offset, Map: m}
}

// nearestIndex returns the index of the entry of the ascending map nearest to
// v, ties to the lower index.
func nearestIndex(m *[256]float32, v float32) uint8 {
	hi := sort.Search(len(m), func(i int) bool { return m[i] >= v })
	switch {
	case hi == 0:
		return 0
	case hi == len(m):
		return uint8(len(m) - 1)
	}
	lo := hi - 1
	if v-m[lo] <= m[hi]-v {
		return uint8(lo)
	}
	return uint8(hi)
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
