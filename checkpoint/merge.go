package checkpoint

import (
	"fmt"
	"math"

	"github.com/nf4go/nf4"
)

// MergeStats measures what requantizing a merged weight cost.
type MergeStats struct {
	MaxAbs float64 // largest |requantized − merged|
	// MaxNorm is the largest error divided by its block's absmax: NF4
	// bounds it by half the widest code gap (0.152) when scales are exact.
	MaxNorm float64
	RMS     float64
}

func (s MergeStats) String() string {
	return fmt.Sprintf("max |err| %.3g, max err/absmax %.4f, rms %.3g", s.MaxAbs, s.MaxNorm, s.RMS)
}

// MergeFloat returns W + scale·B·A row-major as float32 [N*K], with W the
// dequantized base, A [r, K] and B [N, r].
func MergeFloat(w *nf4.Tensor, l *LoRALayer, scale float64) ([]float32, error) {
	if w == nil || l == nil || l.A == nil || l.B == nil {
		return nil, nf4.ErrNil
	}
	out, in, err := l.check("adapter", l.A.Shape()[0])
	if err != nil {
		return nil, err
	}
	if out != w.Rows() || in != w.Cols() {
		return nil, fmt.Errorf("module %s: adapter update is [%d %d] (lora_B %v · lora_A %v), base weight is [%d %d]",
			l.Module, out, in, l.B.Shape(), l.A.Shape(), w.Rows(), w.Cols())
	}
	merged := make([]float32, w.Rows()*w.Cols())
	if err := w.DequantizeInto(merged); err != nil {
		return nil, err
	}
	addUpdate(merged, l, scale)
	return merged, nil
}

// addUpdate adds scale·B·A to the row-major weight dst [out, in],
// accumulating each row in float64. Every product is converted on its own
// so that no build fuses it with the sum (the merged bytes must not depend
// on GOAMD64).
func addUpdate(dst []float32, l *LoRALayer, scale float64) {
	a, b := denseFloat32s(l.A), denseFloat32s(l.B)
	r, in := l.A.Shape()[0], l.A.Shape()[1]
	out := l.B.Shape()[0]
	row := make([]float64, in)
	for n := range out {
		clear(row)
		for j := range r {
			s := float64(b[n*r+j])
			if s == 0 {
				continue
			}
			for k, v := range a[j*in : (j+1)*in] {
				row[k] += float64(s * float64(v))
			}
		}
		d := dst[n*in : (n+1)*in]
		for k := range d {
			d[k] = float32(float64(d[k]) + float64(scale*row[k]))
		}
	}
}

// Requantize quantizes merged like base (same shape, block size, code
// table and double quantization) and measures the error against merged.
func Requantize(merged []float32, base *nf4.Tensor) (*nf4.Tensor, MergeStats, error) {
	if base == nil {
		return nil, MergeStats{}, nf4.ErrNil
	}
	opts := []nf4.Option{nf4.WithBlockSize(base.BlockSize()), nf4.WithQuantType(base.QuantType())}
	if base.DoubleQuant() {
		opts = append(opts, nf4.WithDoubleQuant())
	}
	q, err := nf4.QuantizeFlat(merged, base.Shape(), opts...)
	if err != nil {
		return nil, MergeStats{}, err
	}
	back := make([]float32, len(merged))
	if err := q.DequantizeInto(back); err != nil {
		return nil, MergeStats{}, err
	}
	return q, measure(merged, back, base.BlockSize()), nil
}

func measure(want, got []float32, block int) MergeStats {
	var s MergeStats
	var sq float64
	for b := 0; b < len(want); b += block {
		end := min(b+block, len(want)) // the last block of a flat layout may be partial
		var amax float64
		for _, v := range want[b:end] {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		for i := b; i < end; i++ {
			e := math.Abs(float64(got[i]) - float64(want[i]))
			sq += e * e
			s.MaxAbs = math.Max(s.MaxAbs, e)
			if amax > 0 {
				s.MaxNorm = math.Max(s.MaxNorm, e/amax)
			}
		}
	}
	if len(want) > 0 {
		s.RMS = math.Sqrt(sq / float64(len(want)))
	}
	return s
}
