package cpu

import (
	"fmt"
	"unsafe"
)

// streamBytes is the output size from which Dequantize writes around the
// caches, where the kernel set can: about the last-level cache of a
// small server share.
const streamBytes = 16 << 20

// Dequantize writes W as row-major float32 values into dst (Rows*Cols):
// each value is the float32 product table[code]·scale of its block. Any
// layout Check accepts is decoded, blocks spanning rows and a partial last
// block included.
func Dequantize(dst []float32, w *Weights) error {
	return dequantize(dst, w)
}

// Dequantize64 is Dequantize into float64 values; each value is the float32
// product code*scale, widened.
func Dequantize64(dst []float64, w *Weights) error {
	if err := w.Check(); err != nil {
		return err
	}
	n := w.Rows * w.Cols
	if len(dst) != n {
		return fmt.Errorf("destination has %d values, want %d", len(dst), n)
	}
	B, tab := w.BlockSize, &w.table().values
	parallelFor(w.Blocks(), 1+(1<<14)/B, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			s := w.Scales.At(b)
			for i := b * B; i < min((b+1)*B, n); i++ {
				dst[i] = float64(tab[w.Codes[i/2]>>(4*(i%2))&15] * s)
			}
		}
	})
	return nil
}

func dequantize(dst []float32, w *Weights) error {
	if err := w.Check(); err != nil {
		return err
	}
	n := w.Rows * w.Cols
	if len(dst) != n {
		return fmt.Errorf("destination has %d values, want %d", len(dst), n)
	}
	B, t := w.BlockSize, w.table()
	full := n / B
	if k := active; k != nil {
		decode := k.decode
		if k.decodeStream != nil && 4*n >= streamBytes && uintptr(unsafe.Pointer(&dst[0]))%64 == 0 {
			decode = k.decodeStream // every block starts 64-byte aligned too
		}
		parallelFor(full, 1+(1<<14)/B, func(lo, hi int) {
			// Double-quantized scales are decoded a stretch at a time.
			var buf []float32
			if w.Scales.Double() {
				buf = make([]float32, min(hi-lo, NestedBlockSize))
			}
			for b := lo; b < hi; b += NestedBlockSize {
				nb := min(NestedBlockSize, hi-b)
				sc := rowScales(&w.Scales, b, nb, buf)
				decode(&dst[b*B], &w.Codes[b*B/2], &sc[0], nb, B, streamAhead, &t.values)
			}
		})
	} else {
		parallelFor(full, 1+(1<<14)/B, func(lo, hi int) {
			for b := lo; b < hi; b++ {
				t.decodeScaled(dst[b*B:(b+1)*B], w.Codes[b*B/2:(b+1)*B/2], w.Scales.At(b))
			}
		})
	}
	if full*B < n { // the partial last block
		s := w.Scales.At(full)
		for i := full * B; i < n; i++ {
			dst[i] = t.values[w.Codes[i/2]>>(4*(i%2))&15] * s
		}
	}
	return nil
}

// decodeScaled writes code*scale for every code of src (two per byte).
func (t *codeTable) decodeScaled(dst []float32, src []byte, scale float32) {
	dst = dst[:2*len(src)]
	for i, c := range src {
		p := &t.pairs[c]
		dst[2*i] = p[0] * scale
		dst[2*i+1] = p[1] * scale
	}
}
