package checkpoint

import (
	"fmt"

	"github.com/nf4go/nf4"
)

// checkNF4Entries validates NF4Entries' arguments.
func checkNF4Entries(name string, t *nf4.Tensor, orig DType) error {
	switch {
	case t == nil:
		return &Error{Tensor: name, Err: nf4.ErrNil}
	case orig != F32 && orig != F16 && orig != BF16:
		return &Error{Tensor: name, Err: fmt.Errorf("original dtype %q: want F32, F16 or BF16", string(orig))}
	}
	return nil
}
