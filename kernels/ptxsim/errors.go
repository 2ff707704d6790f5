package ptxsim

import "fmt"

// Error describes a failure while loading or running PTX. Fields that do not
// apply (for example the block of a parse error) are left at their zero value
// and Line is 0 when no line is involved.
type Error struct {
	Kernel string
	Block  [3]int
	Thread [3]int
	Line   int    // 1-based line in the PTX text
	Text   string // the instruction or statement text
	Msg    string
	Exec   bool // the error happened during a launch
}

func (e *Error) Error() string {
	s := "ptxsim: "
	if e.Kernel != "" {
		s += "kernel " + e.Kernel + ": "
	}
	if e.Exec {
		s += fmt.Sprintf("block (%d,%d,%d) thread (%d,%d,%d): ",
			e.Block[0], e.Block[1], e.Block[2], e.Thread[0], e.Thread[1], e.Thread[2])
	}
	if e.Line > 0 {
		s += fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Text != "" {
		s += "`" + e.Text + "`: "
	}
	return s + e.Msg
}

func parseErr(line int, text, format string, args ...any) *Error {
	return &Error{Line: line, Text: text, Msg: fmt.Sprintf(format, args...)}
}
