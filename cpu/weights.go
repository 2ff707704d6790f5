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

// CheckShape reports whether a rows×cols weight can be stored with block
// size b: positive sizes, an accepted block size, cols a multiple of b.
func CheckShape(rows, cols, b int) error {
	switch {
	case !ValidBlockSize(b):
		return fmt.Errorf("block size %d not accepted: want a power of two from %d to %d", b, MinBlockSize, MaxBlockSize)
	case rows <= 0 || cols <= 0:
		return fmt.Errorf("shape [%d %d]: both dimensions must be positive", rows, cols)
	case cols%b != 0:
		return fmt.Errorf("shape [%d %d]: K=%d is not a multiple of the block size %d", rows, cols, cols, b)
	case rows > math.MaxInt32 || cols > math.MaxInt32 || rows*cols/cols != rows:
		return fmt.Errorf("shape [%d %d] is too large", rows, cols)
	}
	return nil
}

// Weights is one NF4 matrix W[Rows, Cols] as the kernels read it.
type Weights struct {
	Rows, Cols, BlockSize int
	Codes                 []byte // Rows*Cols/2 bytes, element 2i in the low nibble
	Scales                Scales // one per block, Rows*Cols/BlockSize of them
}

// Blocks returns the number of blocks.
func (w *Weights) Blocks() int { return w.Rows * w.Cols / w.BlockSize }

// Check reports whether the slices agree with the shape and block size.
func (w *Weights) Check() error {
	if err := CheckShape(w.Rows, w.Cols, w.BlockSize); err != nil {
		return err
	}
	if want := w.Rows * w.Cols / 2; len(w.Codes) != want {
		return fmt.Errorf("codes: have %d bytes, want %d for shape [%d %d]", len(w.Codes), want, w.Rows, w.Cols)
	}
	return w.Scales.check(w.Blocks())
}
