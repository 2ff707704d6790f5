// Package sass reads the machine code cuobjdump -sass prints (CUDA 12.4's:
// older disassemblers leave some sm_90 instructions out), finds a kernel's
// loops from its backward branches, and sorts instructions by the pipe that
// executes them, so a performance model can count the main loop's mix.
package sass

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Instr is one SASS instruction.
type Instr struct {
	Addr   int    // byte offset in the function
	Guard  string // predicate guard, e.g. "@!P0", or ""
	Op     string // opcode with its modifiers, e.g. "LDG.E.128.CONSTANT"
	Args   string // operands as printed
	Target int    // branch target address, or -1
}

// Base is the opcode without modifiers, e.g. "LDG".
func (in Instr) Base() string {
	b, _, _ := strings.Cut(in.Op, ".")
	return b
}

// Function is one kernel's code.
type Function struct {
	Name   string
	Instrs []Instr
}

var (
	reFunc  = regexp.MustCompile(`^\s*Function : (\S+)`)
	reInstr = regexp.MustCompile(`^\s*/\*([0-9a-f]{4,})\*/\s+(@!?U?P[T0-9]\s+)?([A-Z][A-Za-z0-9_.]*)\s*([^;]*);`)
	reBra   = regexp.MustCompile(`0x([0-9a-f]+)\s*$`) // a branch's target is its last operand
)

// Parse reads cuobjdump -sass output.
func Parse(text string) ([]Function, error) {
	var fs []Function
	var cur *Function
	for _, line := range strings.Split(text, "\n") {
		if m := reFunc.FindStringSubmatch(line); m != nil {
			fs = append(fs, Function{Name: m[1]})
			cur = &fs[len(fs)-1]
			continue
		}
		m := reInstr.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("sass: instruction before any function: %q", strings.TrimSpace(line))
		}
		addr, err := strconv.ParseInt(m[1], 16, 64)
		if err != nil {
			return nil, fmt.Errorf("sass: bad address in %q", line)
		}
		in := Instr{Addr: int(addr), Guard: strings.TrimSpace(m[2]), Op: m[3], Args: strings.TrimSpace(m[4]), Target: -1}
		if isBranch(in.Base()) {
			if b := reBra.FindStringSubmatch(in.Args); b != nil {
				t, _ := strconv.ParseInt(b[1], 16, 64)
				in.Target = int(t)
			}
		}
		cur.Instrs = append(cur.Instrs, in)
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("sass: no function in the disassembly")
	}
	return fs, nil
}

func isBranch(base string) bool { return base == "BRA" || base == "BRX" || base == "JMP" }

// Find returns the named function.
func Find(fs []Function, name string) (Function, error) {
	for _, f := range fs {
		if f.Name == name {
			return f, nil
		}
	}
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
	}
	return Function{}, fmt.Errorf("sass: no function %s (have %s)", name, strings.Join(names, ", "))
}

// Loop is the code between a backward branch's target and the branch.
type Loop struct {
	Start, End int     // addresses of the first instruction and of the branch
	Instrs     []Instr // the body, branch included
}

// Loops lists every backward branch of f as a loop, largest first. The
// branch-to-self that pads the end of every kernel is not a loop.
func (f Function) Loops() []Loop {
	var ls []Loop
	for i, in := range f.Instrs {
		if in.Target < 0 || in.Target >= in.Addr {
			continue
		}
		j := sort.Search(len(f.Instrs), func(j int) bool { return f.Instrs[j].Addr >= in.Target })
		ls = append(ls, Loop{Start: in.Target, End: in.Addr, Instrs: f.Instrs[j : i+1]})
	}
	sort.SliceStable(ls, func(a, b int) bool { return len(ls[a].Instrs) > len(ls[b].Instrs) })
	return ls
}

// MainLoop is the loop with the most instructions: the steady state of the
// kernel. ok is false for straight-line code.
func (f Function) MainLoop() (l Loop, ok bool) {
	ls := f.Loops()
	if len(ls) == 0 {
		return Loop{}, false
	}
	return ls[0], true
}
