// Package asmsim executes the Go-assembler text of the cpu package's
// amd64 kernels on a simulated machine, so that every kernel set can be
// tested on any host, including sets the host CPU lacks. It knows exactly
// the instructions those kernels use; anything else is an error that names
// the instruction and its line.
package asmsim

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Program is a parsed assembly file: its functions and read-only data.
type Program struct {
	File  string
	Funcs map[string]*Func
	Data  map[string][]byte // DATA/GLOBL symbols, by name without <>
}

// Func is one TEXT symbol.
type Func struct {
	Name    string
	ArgSize int // the argument frame, from $frame-args
	Insts   []Inst
	Labels  map[string]int // label → index of the next instruction
}

// Inst is one instruction in Go operand order (sources first).
type Inst struct {
	Op   string // mnemonic without suffixes
	Bcst bool   // .BCST: the memory operand is one broadcast element
	Zero bool   // .Z: masked-off lanes are zeroed
	Args []Operand
	Line int
	Text string
}

// Kind is an operand's kind.
type Kind int

const (
	KindGPR Kind = iota + 1
	KindVec
	KindMask
	KindMem
	KindImm
	KindLabel
	KindTile // an AMX tile register (from BYTE runs only)
)

// Operand is one instruction operand.
type Operand struct {
	Kind  Kind
	Reg   int // register number (GPR, vector, mask)
	Width int // vector register width in bytes (16, 32, 64)
	Imm   int64
	// Memory: Disp(Base)(Index*Scale), or Sym+Disp(SB), or Disp(FP).
	Base, Index, Scale int
	Disp               int64
	Sym                string
	FP                 bool
	Label              string
}

// maxData bounds frames and data symbols: the kernels' are a few hundred
// bytes.
const maxData = 1 << 20

var gprNames = map[string]int{
	"AX": 0, "CX": 1, "DX": 2, "BX": 3, "SP": 4, "BP": 5, "SI": 6, "DI": 7,
	"R8": 8, "R9": 9, "R10": 10, "R11": 11, "R12": 12, "R13": 13, "R14": 14, "R15": 15,
}

// Parse reads the assembly text src; file names it in errors.
func Parse(file, src string) (*Program, error) {
	p := &Program{File: file, Funcs: map[string]*Func{}, Data: map[string][]byte{}}
	var fn *Func
	var run byteRun
	// flush ends a run of BYTE directives: it must encode one instruction.
	flush := func() error {
		if len(run.bytes) == 0 {
			return nil
		}
		insts, err := run.decode(file)
		if err != nil {
			return err
		}
		fn.Insts = append(fn.Insts, insts...)
		return nil
	}
	for i, raw := range strings.Split(src, "\n") {
		line := i + 1
		s := raw
		if j := strings.Index(s, "//"); j >= 0 {
			s = s[:j]
		}
		s = strings.TrimSpace(s)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		errf := func(format string, a ...any) error {
			return fmt.Errorf("%s:%d: %s: %s", file, line, s, fmt.Sprintf(format, a...))
		}
		op, rest, _ := strings.Cut(s, " ")
		rest = strings.TrimSpace(rest)
		if op == "BYTE" {
			if fn == nil {
				return nil, errf("BYTE outside a function")
			}
			if err := run.add(line, rest); err != nil {
				return nil, errf("%v", err)
			}
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		switch {
		case op == "TEXT":
			f, err := parseText(rest)
			if err != nil {
				return nil, errf("%v", err)
			}
			fn = f
			p.Funcs[f.Name] = f
		case op == "DATA":
			if err := p.parseData(rest); err != nil {
				return nil, errf("%v", err)
			}
		case op == "GLOBL":
			if err := p.parseGlobl(rest); err != nil {
				return nil, errf("%v", err)
			}
		case strings.HasSuffix(s, ":") && !strings.Contains(s, " "):
			if fn == nil {
				return nil, errf("label outside a function")
			}
			fn.Labels[strings.TrimSuffix(s, ":")] = len(fn.Insts)
		default:
			if fn == nil {
				return nil, errf("instruction outside a function")
			}
			in := Inst{Line: line, Text: strings.Join(strings.Fields(s), " ")}
			parts := strings.Split(op, ".")
			in.Op = parts[0]
			if !known[in.Op] {
				return nil, errf("unknown instruction %s", in.Op)
			}
			for _, sfx := range parts[1:] {
				switch sfx {
				case "BCST":
					in.Bcst = true
				case "Z":
					in.Zero = true
				default:
					return nil, errf("unknown suffix .%s", sfx)
				}
			}
			if rest != "" {
				for _, a := range strings.Split(rest, ",") {
					o, err := parseOperand(strings.TrimSpace(a), in.Op)
					if err != nil {
						return nil, errf("%v", err)
					}
					in.Args = append(in.Args, o)
				}
			}
			fn.Insts = append(fn.Insts, in)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return p, nil
}

// parseText reads "·name(SB), NOSPLIT, $0-104".
func parseText(rest string) (*Func, error) {
	fields := strings.Split(rest, ",")
	name := strings.TrimSpace(fields[0])
	name = strings.TrimPrefix(strings.TrimSuffix(name, "(SB)"), "·")
	f := &Func{Name: name, Labels: map[string]int{}}
	frame := strings.TrimSpace(fields[len(fields)-1])
	if _, args, ok := strings.Cut(frame, "-"); ok {
		n, err := strconv.Atoi(args)
		if err != nil || n < 0 || n > maxData || n%8 != 0 {
			return nil, fmt.Errorf("bad frame %q", frame)
		}
		f.ArgSize = n
	}
	return f, nil
}

func symName(s string) string {
	s = strings.TrimSuffix(s, "(SB)")
	s, _, _ = strings.Cut(s, "+")
	return strings.TrimSuffix(s, "<>")
}

// parseData reads "sym<>+off(SB)/size, $value".
func (p *Program) parseData(rest string) error {
	loc, val, ok := strings.Cut(rest, ",")
	if !ok {
		return fmt.Errorf("bad DATA")
	}
	loc, sz, _ := strings.Cut(strings.TrimSpace(loc), "/")
	size, err := strconv.Atoi(sz)
	if err != nil || size < 1 || size > 8 {
		return fmt.Errorf("bad DATA size %q", sz)
	}
	name := symName(loc)
	off := int64(0)
	if _, o, ok := strings.Cut(strings.TrimSuffix(loc, "(SB)"), "+"); ok {
		if off, err = strconv.ParseInt(o, 0, 64); err != nil || off < 0 || off > maxData {
			return fmt.Errorf("bad DATA offset %q", o)
		}
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(val), "$"), 0, 64)
	if err != nil {
		return fmt.Errorf("bad DATA value %q", val)
	}
	b := p.Data[name]
	if need := int(off) + size; len(b) < need {
		b = append(b, make([]byte, need-len(b))...)
	}
	var tmp [8]byte
	binary.LittleEndian.PutUint64(tmp[:], v)
	copy(b[off:off+int64(size)], tmp[:size])
	p.Data[name] = b
	return nil
}

// parseGlobl reads "sym<>(SB), FLAGS, $size".
func (p *Program) parseGlobl(rest string) error {
	fields := strings.Split(rest, ",")
	name := symName(strings.TrimSpace(fields[0]))
	size, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(fields[len(fields)-1]), "$"))
	if err != nil || size < 0 || size > maxData {
		return fmt.Errorf("bad GLOBL size")
	}
	if b := p.Data[name]; len(b) < size {
		p.Data[name] = append(b, make([]byte, size-len(b))...)
	}
	return nil
}

func parseOperand(a, op string) (Operand, error) {
	switch {
	case a == "":
		return Operand{}, fmt.Errorf("empty operand")
	case a[0] == '$':
		v, err := strconv.ParseInt(a[1:], 0, 64)
		if err != nil {
			return Operand{}, fmt.Errorf("bad immediate %q", a)
		}
		return Operand{Kind: KindImm, Imm: v}, nil
	case strings.Contains(a, "("):
		return parseMem(a)
	}
	if r, ok := gprNames[a]; ok {
		return Operand{Kind: KindGPR, Reg: r}, nil
	}
	if len(a) >= 2 {
		n, err := strconv.Atoi(a[1:])
		if err == nil {
			switch a[0] {
			case 'X':
				return Operand{Kind: KindVec, Reg: n, Width: 16}, vecRange(n, 32)
			case 'Y':
				return Operand{Kind: KindVec, Reg: n, Width: 32}, vecRange(n, 32)
			case 'Z':
				return Operand{Kind: KindVec, Reg: n, Width: 64}, vecRange(n, 32)
			case 'K':
				return Operand{Kind: KindMask, Reg: n}, vecRange(n, 8)
			}
		}
	}
	if strings.HasPrefix(op, "J") {
		return Operand{Kind: KindLabel, Label: a}, nil
	}
	return Operand{}, fmt.Errorf("unknown operand %q", a)
}

func vecRange(n, limit int) error {
	if n < 0 || n >= limit {
		return fmt.Errorf("register number %d out of range", n)
	}
	return nil
}

// parseMem reads off(base)(index*scale), name+off(FP) and sym<>+off(SB).
func parseMem(a string) (Operand, error) {
	o := Operand{Kind: KindMem, Base: -1, Index: -1}
	open := strings.Index(a, "(")
	head, tail := a[:open], a[open:]
	if tail == "(SB)" {
		o.Sym = symName(a)
		if _, off, ok := strings.Cut(head, "+"); ok {
			v, err := strconv.ParseInt(off, 0, 64)
			if err != nil {
				return o, fmt.Errorf("bad offset in %q", a)
			}
			o.Disp = v
		}
		return o, nil
	}
	if tail == "(FP)" {
		o.FP = true
		_, off, ok := strings.Cut(head, "+")
		if !ok {
			off = head
		}
		v, err := strconv.ParseInt(off, 0, 64)
		if err != nil {
			return o, fmt.Errorf("bad FP offset in %q", a)
		}
		o.Disp = v
		return o, nil
	}
	if head != "" {
		v, err := strconv.ParseInt(head, 0, 64)
		if err != nil {
			return o, fmt.Errorf("bad displacement in %q", a)
		}
		o.Disp = v
	}
	for i, part := range strings.SplitAfter(tail, ")") {
		if part == "" {
			continue
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(part, "("), ")")
		switch i {
		case 0:
			r, ok := gprNames[inner]
			if !ok {
				return o, fmt.Errorf("bad base register in %q", a)
			}
			o.Base = r
		case 1:
			reg, sc, ok := strings.Cut(inner, "*")
			r, okr := gprNames[reg]
			s, err := strconv.Atoi(sc)
			if !ok || !okr || err != nil || (s != 1 && s != 2 && s != 4 && s != 8) {
				return o, fmt.Errorf("bad index in %q", a)
			}
			o.Index, o.Scale = r, s
		default:
			return o, fmt.Errorf("bad memory operand %q", a)
		}
	}
	return o, nil
}
