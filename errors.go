package nf4

import (
	"errors"
	"fmt"
	"math"

	"github.com/nf4go/nf4/cpu"
)

// NonFiniteError reports a NaN or Inf in a weight: its row, the block of
// that row, and the column.
type NonFiniteError = cpu.NonFiniteError

// ErrNil is returned when a required value is nil.
var ErrNil = errors.New("nf4: nil value")

func errorf(format string, args ...any) error {
	return fmt.Errorf("nf4: "+format, args...)
}

func wrap(context string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("nf4: %s: %w", context, err)
}

// rangeError is a finite float64 weight that float32 cannot hold: it is
// rounded to ±Inf before quantization, so cpu reports it as non-finite.
type rangeError struct{ *NonFiniteError }

func (e rangeError) Error() string {
	return fmt.Sprintf("nf4: quantize: weight %v at row %d, column %d (block %d of that row) is out of float32 range (largest %v)",
		e.Value, e.Row, e.Col, e.Block, float32(math.MaxFloat32))
}

func (e rangeError) Unwrap() error { return e.NonFiniteError }

// float32Range rewords the error of quantizing float64 weights when the
// bad value is finite.
func float32Range(err error) error {
	var nf *NonFiniteError
	if errors.As(err, &nf) && !math.IsNaN(nf.Value) && !math.IsInf(nf.Value, 0) {
		return rangeError{nf}
	}
	return err
}
