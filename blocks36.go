package nf4

import (
	"encoding/binary"
	"math"

	"github.com/nf4go/nf4/cpu"
)

// Packed blocks are the interchange form of the original Rust NF4 module:
// per block of 64 values, 36 bytes [absmax float32 little-endian][32 code
// bytes, element 2i in the low nibble], blocks in row-major order.
const (
	PackedBlockValues = 64
	PackedBlockBytes  = 4 + PackedBlockValues/2
)

// PackedBlocks exports the tensor as 36-byte blocks. It needs block size 64;
// double-quantized scales are decoded to float32.
func (t *Tensor) PackedBlocks() ([]byte, error) {
	if t == nil {
		return nil, ErrNil
	}
	if t.w.BlockSize != PackedBlockValues {
		return nil, errorf("packed blocks hold %d values, tensor has block size %d", PackedBlockValues, t.w.BlockSize)
	}
	if t.w.Type != NF4 || !t.w.RowAligned() {
		return nil, errorf("packed blocks hold NF4 rows of whole blocks; tensor is %v", t)
	}
	nb := t.w.Blocks()
	out := make([]byte, nb*PackedBlockBytes)
	for b := range nb {
		p := out[b*PackedBlockBytes:]
		binary.LittleEndian.PutUint32(p, math.Float32bits(t.w.Scales.At(b)))
		copy(p[4:PackedBlockBytes], t.w.Codes[b*PackedBlockValues/2:])
	}
	return out, nil
}

// FromPackedBlocks imports a rows×cols matrix stored as 36-byte blocks.
// The length must match the shape exactly, and every scale must be finite;
// errors name the offending block.
func FromPackedBlocks(data []byte, rows, cols int) (*Tensor, error) {
	if err := cpu.CheckShape(rows, cols, PackedBlockValues); err != nil {
		return nil, wrap("packed blocks", err)
	}
	nb := rows * cols / PackedBlockValues
	if len(data) != nb*PackedBlockBytes {
		return nil, errorf("packed blocks: have %d bytes, want %d (%d blocks of %d) for shape [%d %d]",
			len(data), nb*PackedBlockBytes, nb, PackedBlockBytes, rows, cols)
	}
	w := cpu.Weights{Rows: rows, Cols: cols, BlockSize: PackedBlockValues,
		Codes: make([]byte, rows*cols/2), Scales: cpu.Scales{Absmax: make([]float32, nb)}}
	for b := range nb {
		p := data[b*PackedBlockBytes:]
		w.Scales.Absmax[b] = math.Float32frombits(binary.LittleEndian.Uint32(p))
		copy(w.Codes[b*PackedBlockValues/2:], p[4:PackedBlockBytes])
	}
	if err := checkScales(&w); err != nil {
		return nil, wrap("packed blocks", err)
	}
	return &Tensor{w: w, shape: []int{rows, cols}}, nil
}
