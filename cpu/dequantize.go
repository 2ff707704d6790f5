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
				decodeScaled(dst[b*B:(b+1)*B], w.Codes[b*B/2:(b+1)*B/2], w.Scales.At(b), &t.nibbles)
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

// decodeScaled writes code·scale for every code of src (two per byte) into
// dst, looking the codes up in a codeTable's nibbles. Four bytes a step,
// resliced, so that no store needs a bounds check.
func decodeScaled[T float](dst []T, src []byte, scale T, v *[512]T) {
	dst = dst[:2*len(src)]
	for len(src) >= 4 && len(dst) >= 8 {
		c, d := src[:4], dst[:8]
		d[0], d[1] = v[c[0]]*scale, v[256+uint(c[0])]*scale
		d[2], d[3] = v[c[1]]*scale, v[256+uint(c[1])]*scale
		d[4], d[5] = v[c[2]]*scale, v[256+uint(c[2])]*scale
		d[6], d[7] = v[c[3]]*scale, v[256+uint(c[3])]*scale
		src, dst = src[4:], dst[8:]
	}
	for i, c := range src {
		dst[2*i], dst[2*i+1] = v[c]*scale, v[256+uint(c)]*scale
	}
}
