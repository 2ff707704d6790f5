package checkpoint

import "fmt"

// Error is what this package returns for a bad file or tensor: it names
// the file, the tensor when there is one, and the problem.
type Error struct {
	File   string
	Tensor string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.File == "" && e.Tensor == "":
		return fmt.Sprintf("checkpoint: %v", e.Err)
	case e.File == "":
		return fmt.Sprintf("checkpoint: tensor %q: %v", e.Tensor, e.Err)
	case e.Tensor == "":
		return fmt.Sprintf("checkpoint: %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("checkpoint: %s: tensor %q: %v", e.File, e.Tensor, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func fileErr(file, format string, args ...any) error {
	return &Error{File: file, Err: fmt.Errorf(format, args...)}
}

func tensorErr(file, tensor, format string, args ...any) error {
	return &Error{File: file, Tensor: tensor, Err: fmt.Errorf(format, args...)}
}
