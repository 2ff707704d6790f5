package cpu

import (
	"fmt"
	"math"
)

// MinBlockSize and MaxBlockSize bound the accepted block sizes; every power
// of two between them is accepted (the bitsandbytes set).
const (
	MinBlockSize     = 32
	MaxBlockSize     = 4096
	DefaultBlockSize = 64
)

// ValidBlockSize reports whether b is a power of two in [32, 4096].
func ValidBlockSize(b int) bool {
	return b >= MinBlockSize && b <= MaxBlockSize && b&(b-1) == 0
}

// CheckLayout reports whether a rows×cols tensor can be stored with block
// size b at all: positive sizes and an accepted block size. Blocks then
// run over the flattened tensor, as bitsandbytes lays them out.
func CheckLayout(rows, cols, b int) error {
	switch {
	case !ValidBlockSize(b):
		return fmt.Errorf("block size %d not accepted: want a power of two from %d to %d", b, MinBlockSize, MaxBlockSize)
	case rows <= 0 || cols <= 0:
		return fmt.Errorf("shape [%d %d]: both dimensions must be positive", rows, cols)
	case rows > math.MaxInt32 || cols > math.MaxInt32 || uint64(rows)*uint64(cols) > math.MaxInt/8:
		return fmt.Errorf("shape [%d %d] is too large", rows, cols)
	}
	return nil
}

// CheckShape reports whether a rows×cols weight can be stored with block
// size b so that every block lies within one row (cols a multiple of b),
// which the products need.
func CheckShape(rows, cols, b int) error {
	if err := CheckLayout(rows, cols, b); err != nil {
		return err
	}
	if cols%b != 0 {
		return fmt.Errorf("shape [%d %d]: K=%d is not a multiple of the block size %d", rows, cols, cols, b)
	}
	return nil
}

// Weights is one 4-bit matrix W[Rows, Cols] as the kernels read it.
type Weights struct {
	Rows, Cols, BlockSize int
	Codes                 []byte    // (Rows*Cols+1)/2 bytes, element 2i in the low nibble
	Scales                Scales    // one per block: ceil(Rows*Cols/BlockSize)
	Type                  QuantType // the code table; the zero value is NF4
}

// Blocks returns the number of blocks, the last one partial when
// Rows*Cols is not a multiple of BlockSize.
func (w *Weights) Blocks() int { return (w.Rows*w.Cols + w.BlockSize - 1) / w.BlockSize }

// RowAligned reports whether every block lies within one row (Cols a
// multiple of BlockSize), the layout the products need.
func (w *Weights) RowAligned() bool { return w.BlockSize > 0 && w.Cols%w.BlockSize == 0 }

// Check reports whether the slices agree with the shape and block size.
func (w *Weights) Check() error {
	if !w.Type.Valid() {
		return fmt.Errorf("code table %v not supported", w.Type)
	}
	if err := CheckLayout(w.Rows, w.Cols, w.BlockSize); err != nil {
		return err
	}
	if want := (w.Rows*w.Cols + 1) / 2; len(w.Codes) != want {
		return fmt.Errorf("codes: have %d bytes, want %d for shape [%d %d]", len(w.Codes), want, w.Rows, w.Cols)
	}
	return w.Scales.check(w.Blocks())
}

// CheckProduct is Check plus the row alignment the products need; the
// error for a weight whose blocks span rows says how to re-block it.
func (w *Weights) CheckProduct() error {
	if err := w.Check(); err != nil {
		return err
	}
	if !w.RowAligned() {
		return fmt.Errorf("shape [%d %d] with block size %d: blocks run across rows (K=%d is not a multiple of %d), "+
			"which matrix products do not support; %s", w.Rows, w.Cols, w.BlockSize, w.Cols, w.BlockSize, reblockHint(w.Cols))
	}
	return nil
}

// reblockHint says how to get a weight with K columns the products take.
func reblockHint(k int) string {
	for b := MaxBlockSize; b >= MinBlockSize; b /= 2 {
		if k%b == 0 {
			return fmt.Sprintf("re-block the weight: dequantize it and quantize it again with a block size that divides K (%d or smaller)", b)
		}
	}
	return fmt.Sprintf("no accepted block size divides K=%d, so use the weight dequantized", k)
}

// table returns the weight's code table.
func (w *Weights) table() *codeTable { return w.Type.table() }
