package cpu

import (
	"math/big"
	"sort"
	"sync"
)

// DynamicMap returns bitsandbytes' signed dynamic 8-bit map
// (create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)):
// 256 ascending values in [-1, 1] with 0 and 1 exact, dense near zero.
//
// The map's only dependence on its environment is torch.linspace(0.1, 1,
// steps) in float32. nf4 computes it as torch ≥ 2.0's CPU kernel does
// where the compiler contracts start + step·i into one fused multiply-add
// (its AVX2 and AVX-512 kernel builds), a table also published as
// bitsandbytes' map; every rounding is explicit, so no build flag or
// architecture changes a bit of it. Maps written by other torch builds
// differ from it in a few entries by an ulp or two; reading a file always
// uses the map stored in it.
func DynamicMap() *[256]float32 {
	m := dynamicMap
	return &m
}

var dynamicMap = buildDynamicMap(true)

// buildDynamicMap follows create_dynamic_map: for i = 0..6, the means of
// neighbouring points of linspace(0.1, 1, 2^i+1) scaled by ±10^(i-6) (a
// float32 product, as torch multiplies a float32 tensor by a Python
// number), then 0 and 1, sorted. fused selects the linspace model.
func buildDynamicMap(fused bool) (m [256]float32) {
	// 10 ** (i - 6) as Python computes it (a float64), then torch's
	// conversion of that scalar to float32.
	scales := [7]float64{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1}
	data := make([]float32, 0, 256)
	for i, sc := range scales {
		steps := 1<<i + 1
		bounds := torchLinspace(0.1, 1, steps, fused)
		scale := float32(sc)
		for j := 0; j+1 < steps; j++ {
			mean := (bounds[j] + bounds[j+1]) / 2
			data = append(data, scale*mean, -scale*mean)
		}
	}
	data = append(data, 0, 1)
	sort.Slice(data, func(a, b int) bool { return data[a] < data[b] })
	copy(m[:], data)
	return m
}

// torchLinspace is torch.linspace(start, end, steps) on float32 as torch
// ≥ 2.0's CPU kernel computes it: step = (end-start)/(steps-1); value i is
// start + step·i below the middle and end − step·(steps−1−i) from there
// on, each either one fused multiply-add (fused) or a product and a sum
// rounded separately.
func torchLinspace(start, end float32, steps int, fused bool) []float32 {
	out := make([]float32, steps)
	if steps == 1 {
		out[0] = start
		return out
	}
	step := (end - start) / float32(steps-1)
	half := steps / 2
	for i := range out {
		base, k := start, float32(i)
		if i >= half {
			base, k = end, -float32(steps-i-1)
		}
		if fused {
			out[i] = fma32(step, k, base)
		} else {
			out[i] = base + float32(step*k) // the conversion forbids fusing
		}
	}
	return out
}

// fma32 returns a·b + c rounded once to float32, computed exactly.
func fma32(a, b, c float32) float32 {
	const prec = 256 // a·b needs 48 bits; the sum fits easily
	x := new(big.Float).SetPrec(prec).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetPrec(prec).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetPrec(prec).SetFloat64(float64(c)))
	f, _ := x.Float32()
	return f
}

// lutSize is the resolution of bitsandbytes' 8-bit quantizer: [-1, 1] in
// 65536 steps.
const lutSize = 65536

// dynamicLUT is buildLUT of the dynamic map, built once.
var dynamicLUT = sync.OnceValue(func() *[lutSize]uint8 { return buildLUT(&dynamicMap) })

// buildLUT returns the lookup table bitsandbytes' C++ CPU kernel builds
// for an ascending 8-bit map m (build_quantize_lut): entry i is the number
// of midpoints 0.5·(m[j]+m[j+1]) below −1 + 2i/65535, all in float32,
// i.e. the code of the map entry nearest that grid point.
func buildLUT(m *[256]float32) *[lutSize]uint8 {
	var mids [255]float32
	for i := range mids {
		mids[i] = 0.5 * (m[i] + m[i+1])
	}
	var lut [lutSize]uint8
	code := 0
	for i := range lut {
		v := -1 + float32(2*i)/(lutSize-1)
		for code < len(mids) && mids[code] < v {
			code++
		}
		lut[i] = uint8(code)
	}
	return &lut
}

// lutIndex maps a scaled value to its lookup-table entry as bitsandbytes
// does: clamp to [-1, 1], then (v+1)·0.5·65535 + 0.5, truncated. Each
// operation is rounded to float32 on its own (whether bitsandbytes' build
// fuses the last two makes no difference for any float32 v in [-1, 1]:
// checked exhaustively).
func lutIndex(v float32) int {
	switch {
	case v > 1:
		v = 1
	case !(v >= -1): // below -1, or NaN (only from overflowing input)
		v = -1
	}
	t := (v + 1) * 0.5
	return int(float32(t*(lutSize-1)) + 0.5)
}
