package cpu

import "fmt"

// Dequantize writes W as row-major float32 values into dst (Rows*Cols).
func Dequantize(dst []float32, w *Weights) error {
	return dequantize(dst, w)
}

// Dequantize64 is Dequantize into float64 values; each value is the float32
// product code*scale, widened.
func Dequantize64(dst []float64, w *Weights) error {
	if err := w.Check(); err != nil {
		return err
	}
	if len(dst) != w.Rows*w.Cols {
		return fmt.Errorf("destination has %d values, want %d", len(dst), w.Rows*w.Cols)
	}
	B := w.BlockSize
	parallelFor(w.Blocks(), 1+(1<<14)/B, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			s := w.Scales.At(b)
			for i, c := range w.Codes[b*B/2 : (b+1)*B/2] {
				dst[b*B+2*i] = float64(Codebook[c&15] * s)
				dst[b*B+2*i+1] = float64(Codebook[c>>4] * s)
			}
		}
	})
	return nil
}

func dequantize(dst []float32, w *Weights) error {
	if err := w.Check(); err != nil {
		return err
	}
	if len(dst) != w.Rows*w.Cols {
		return fmt.Errorf("destination has %d values, want %d", len(dst), w.Rows*w.Cols)
	}
	B := w.BlockSize
	if k := active; k != nil {
		parallelFor(w.Blocks(), 1+(1<<14)/B, func(lo, hi int) {
			// Double-quantized scales are decoded a stretch at a time.
			var buf []float32
			if w.Scales.Double() {
				buf = make([]float32, min(hi-lo, NestedBlockSize))
			}
			for b := lo; b < hi; b += NestedBlockSize {
				n := min(NestedBlockSize, hi-b)
				sc := rowScales(&w.Scales, b, n, buf)
				k.decode(&dst[b*B], &w.Codes[b*B/2], &sc[0], n, B, streamAhead, &Codebook)
			}
		})
		return nil
	}
	parallelFor(w.Blocks(), 1+(1<<14)/B, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			decodeScaled(dst[b*B:(b+1)*B], w.Codes[b*B/2:(b+1)*B/2], w.Scales.At(b))
		}
	})
	return nil
}

// decodeScaled writes code*scale for every code of src (two per byte).
func decodeScaled(dst []float32, src []byte, scale float32) {
	dst = dst[:2*len(src)]
	for i, c := range src {
		p := &pairTable[c]
		dst[2*i] = p[0] * scale
		dst[2*i+1] = p[1] * scale
	}
}
