package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nf4go/nf4"
)

// readBackWeight builds a weight from fuzz bytes in which whole blocks are
// zero, tiny (down to subnormal) or ordinary, next to one large block: the
// mix that makes double quantization decode a near-zero absmax to a
// negative scale.
func readBackWeight(raw []byte, rows, cols, b int) []float32 {
	w := make([]float32, rows*cols)
	at := func(i int) byte {
		if len(raw) == 0 {
			return byte(i)
		}
		return raw[i%len(raw)] ^ byte(i/len(raw))
	}
	for blk := 0; blk*b < len(w); blk++ {
		kind := at(blk) % 5
		scale := map[byte]float32{0: 0, 1: 1e-30, 2: 1e-41, 3: 1, 4: 0.02}[kind]
		if blk == 1 {
			scale = 40
		}
		for i := blk * b; i < min((blk+1)*b, len(w)); i++ {
			u := binary.LittleEndian.Uint16([]byte{at(2*i + 1), at(2*i + 2)})
			w[i] = scale * (float32(int16(u)) / 32768)
		}
	}
	return w
}

// FuzzQuantizedFileReadsBack: every file QuantizeFile writes (what
// `nf4 quantize` runs), NF4 or FP4, plain or double-quantized, is read back by
// DequantizeFile (`nf4 dequantize`) to exactly the values of the weight
// quantized in memory, whatever zero and tiny blocks it holds.
func FuzzQuantizedFileReadsBack(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4}, uint8(0), true, false)
	f.Add([]byte{0, 0, 0, 0, 7, 3}, uint8(1), false, true)
	f.Add([]byte{5, 10, 15, 20, 25, 30, 0}, uint8(2), true, true)
	f.Fuzz(func(t *testing.T, raw []byte, shape uint8, double, fp4 bool) {
		b := 32 << (shape % 2)
		rows, cols := 3+int(shape/2)%9, b*(1+int(shape/32)%3)
		vals := readBackWeight(raw, rows, cols, b)
		dir := t.TempDir()
		in := writeEntries(t, dir, "in.safetensors", nil, floatEntry("m.weight", F32, []int{rows, cols}, vals))
		out := filepath.Join(dir, "q.safetensors")
		q := nf4.NF4
		if fp4 {
			q = nf4.FP4
		}
		if _, err := QuantizeFile(context.Background(), in, out, QuantizeOptions{BlockSize: b, Double: double, QuantType: q}); err != nil {
			t.Fatal(err)
		}
		back := filepath.Join(dir, "f.safetensors")
		if _, err := DequantizeFile(context.Background(), out, back, DequantizeOptions{DType: F32}); err != nil {
			t.Fatalf("the quantized file does not read back: %v", err)
		}
		got, _, err := mustOpen(t, back).Float32s("m.weight")
		if err != nil {
			t.Fatal(err)
		}
		opts := []nf4.Option{nf4.WithBlockSize(b), nf4.WithQuantType(q)}
		if double {
			opts = append(opts, nf4.WithDoubleQuant())
		}
		ref, err := nf4.QuantizeFloat32s(vals, rows, cols, opts...)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(vals))
		if err := ref.DequantizeInto(want); err != nil {
			t.Fatal(err)
		}
		if i := sameBits(got, want); i >= 0 {
			t.Fatalf("value %d read back as %v, want %v", i, got[i], want[i])
		}
	})
}

// TestQuantizedFileWithNegativeScaleReadsBack is the case that used to
// lose data: bitsandbytes' doublequant_negative_scale input, quantized
// with double quantization, decodes block 0's scale below zero, and the
// file must still read back.
func TestQuantizedFileWithNegativeScaleReadsBack(t *testing.T) {
	g := openGolden(t, "doublequant_negative_scale_b64.safetensors")
	in := g.floats(t, "input")
	dir := t.TempDir()
	src := writeEntries(t, dir, "in.safetensors", nil, floatEntry("m.weight", F32, []int{16, 1024}, in))
	out := filepath.Join(dir, "q.safetensors")
	if _, err := QuantizeFile(context.Background(), src, out, QuantizeOptions{BlockSize: 64, Double: true}); err != nil {
		t.Fatal(err)
	}
	w, _, err := mustOpen(t, out).NF4("m.weight")
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	if s := w.Absmax()[0]; !(s < 0) {
		t.Fatalf("block 0's decoded scale is %v; the case needs it negative", s)
	}
	back := filepath.Join(dir, "f.safetensors")
	if _, err := DequantizeFile(context.Background(), out, back, DequantizeOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _, _ := mustOpen(t, back).Float32s("m.weight")
	for i, v := range got[:64] {
		if v != 0 || math.IsNaN(float64(v)) {
			t.Fatalf("value %d of the all-zero block read back as %v", i, v)
		}
	}
}

// TestDoubleQuantRoundTripStable: quantize → dequantize → quantize through
// the file API (what nf4 quantize --double-quant and nf4 dequantize run)
// writes the same file from the second round on.
func TestDoubleQuantRoundTripStable(t *testing.T) {
	dir := t.TempDir()
	rows, cols, b := 24, 1024, 64
	vals := readBackWeight([]byte{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5}, rows, cols, b)
	path := writeEntries(t, dir, "r0.safetensors", nil, floatEntry("m.weight", F32, []int{rows, cols}, vals))
	var files [][]byte
	for round := 1; round <= 3; round++ {
		q := filepath.Join(dir, fmt.Sprintf("q%d.safetensors", round))
		if _, err := QuantizeFile(context.Background(), path, q, QuantizeOptions{BlockSize: b, Double: true}); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(q)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
		path = filepath.Join(dir, fmt.Sprintf("f%d.safetensors", round))
		if _, err := DequantizeFile(context.Background(), q, path, DequantizeOptions{DType: F32}); err != nil {
			t.Fatal(err)
		}
	}
	if bytes.Equal(files[0], files[1]) {
		t.Log("the first round is already stable")
	}
	if !bytes.Equal(files[1], files[2]) {
		t.Fatalf("the third round's file differs from the second's (first difference at byte %d)", firstByteDiff(files[1], files[2]))
	}
}
