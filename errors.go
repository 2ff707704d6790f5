package nf4

import (
	"errors"
	"fmt"

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
