package ptxsim

import (
	"strconv"
	"strings"
)

// rawKind classifies an operand as written, before names are resolved.
type rawKind uint8

const (
	rName rawKind = iota // register, special register, label or variable
	rNum                 // literal
	rVec                 // {a, b, ...}
	rAddr                // [base+off]
	rPair                // a|b
)

type rawOperand struct {
	kind  rawKind
	name  string // rName, rAddr base ("" when the address is a literal), rNum literal text
	neg   bool   // rName: written with '!'; rNum: written with '-'
	off   int64  // rAddr offset
	elems []rawOperand
}

type rawInst struct {
	guard    string
	guardNeg bool
	opcode   string
	ops      []rawOperand
	label    string // set for a label statement instead of an instruction
	line     int
	text     string
}

type varDecl struct {
	name   string
	space  string // ".shared", ".const", ".global"
	align  int
	elem   int // element size in bytes
	typ    ptype
	count  int // -1 for an unsized extern array
	init   []byte
	line   int
	extern bool
}

type regDecl struct {
	name  string
	count int // -1: a single register; n: name0..name(n-1)
	typ   ptype
}

type rawKernel struct {
	name   string
	params []paramDecl
	regs   []regDecl
	vars   []varDecl
	body   []rawInst
	line   int
}

type paramDecl struct {
	name  string
	size  int
	align int
	array bool // a .b8 array passed by value (a tensor map)
}

type parser struct {
	toks  []token
	pos   int
	lines []string
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{kind: tPunct, text: "", line: p.lastLine()}
}

func (p *parser) lastLine() int {
	if len(p.toks) == 0 {
		return 1
	}
	return p.toks[len(p.toks)-1].line
}

func (p *parser) next() token {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

func (p *parser) eof() bool { return p.pos >= len(p.toks) }

func (p *parser) lineText(n int) string {
	if n >= 1 && n <= len(p.lines) {
		return strings.TrimSpace(p.lines[n-1])
	}
	return ""
}

func (p *parser) errAt(t token, format string, args ...any) *Error {
	return parseErr(t.line, p.lineText(t.line), format, args...)
}

func (p *parser) expect(text string) error {
	t := p.next()
	if t.text != text || (t.kind != tPunct && t.kind != tIdent) {
		return p.errAt(t, "expected %q, found %q", text, t.text)
	}
	return nil
}

// parseModule reads the module structure: header directives, module-level
// variables and entry functions.
func parseModule(src string) (kernels []*rawKernel, vars []varDecl, err error) {
	toks, err := lex(src)
	if err != nil {
		return nil, nil, err
	}
	p := &parser{toks: toks, lines: strings.Split(src, "\n")}
	for !p.eof() {
		t := p.next()
		switch t.text {
		case ".version", ".address_size":
			if n := p.next(); n.kind != tNumber {
				return nil, nil, p.errAt(n, "expected a number after %s", t.text)
			}
		case ".target":
			for {
				n := p.next()
				if n.kind != tIdent {
					return nil, nil, p.errAt(n, "expected a target name")
				}
				if p.peek().text != "," {
					break
				}
				p.next()
			}
		case ".visible", ".weak":
			if n := p.peek(); n.text != ".entry" {
				return nil, nil, p.errAt(n, "unsupported declaration %q after %s (only .entry)", n.text, t.text)
			}
		case ".entry":
			k, err := p.parseEntry(t)
			if err != nil {
				return nil, nil, err
			}
			kernels = append(kernels, k)
		case ".const", ".global", ".shared", ".extern":
			p.pos--
			v, err := p.parseVar()
			if err != nil {
				return nil, nil, err
			}
			vars = append(vars, v)
		default:
			return nil, nil, p.errAt(t, "unsupported module-level statement %q", t.text)
		}
	}
	return kernels, vars, nil
}

func (p *parser) parseEntry(start token) (*rawKernel, error) {
	name := p.next()
	if name.kind != tIdent || strings.HasPrefix(name.text, ".") {
		return nil, p.errAt(name, "expected a kernel name")
	}
	k := &rawKernel{name: name.text, line: start.line}
	if p.peek().text == "(" {
		p.next()
		for p.peek().text != ")" {
			pd, err := p.parseParam()
			if err != nil {
				return nil, err
			}
			k.params = append(k.params, pd)
			if p.peek().text == "," {
				p.next()
			} else if p.peek().text != ")" {
				return nil, p.errAt(p.peek(), "expected ',' or ')' in the parameter list")
			}
		}
		p.next()
	}
	// Performance directives carry no semantics for a functional run.
	for p.peek().text != "{" {
		t := p.next()
		switch t.text {
		case ".maxntid", ".reqntid", ".minnctapersm", ".maxnctapersm", ".maxnreg", ".noreturn":
			for p.peek().kind == tNumber || p.peek().text == "," {
				p.next()
			}
		default:
			return nil, p.errAt(t, "unsupported entry directive %q", t.text)
		}
	}
	p.next()
	if err := p.parseBody(k); err != nil {
		if e, ok := err.(*Error); ok {
			e.Kernel = k.name
		}
		return nil, err
	}
	return k, nil
}

func (p *parser) parseParam() (paramDecl, error) {
	t := p.next()
	if t.text != ".param" {
		return paramDecl{}, p.errAt(t, "expected .param, found %q", t.text)
	}
	size, align := 0, 0
	for {
		t = p.next()
		if t.kind != tIdent {
			return paramDecl{}, p.errAt(t, "expected a parameter name")
		}
		if !strings.HasPrefix(t.text, ".") {
			break
		}
		if strings.HasPrefix(t.text, ".ptr") || t.text == ".align" {
			if t.text == ".align" {
				n := p.next()
				v, err := parseInt(n.text)
				if err != nil || v < 1 || v > 1024 || v&(v-1) != 0 {
					return paramDecl{}, p.errAt(n, "bad parameter alignment %q", n.text)
				}
				align = int(v)
			}
			continue
		}
		typ, ok := typeNames[t.text]
		if !ok || typ == tyPred {
			return paramDecl{}, p.errAt(t, "unsupported parameter modifier %q", t.text)
		}
		size = typ.size()
	}
	if size == 0 {
		return paramDecl{}, p.errAt(t, "parameter %s has no type", t.text)
	}
	if p.peek().text == "[" {
		// Only byte arrays, the form of a tensor map passed by value.
		p.next()
		n := p.next()
		count, err := parseInt(n.text)
		if size != 1 || err != nil || count < 1 || count > 4096 {
			return paramDecl{}, p.errAt(t, "only sized .b8 array parameters are supported")
		}
		if err := p.expect("]"); err != nil {
			return paramDecl{}, err
		}
		return paramDecl{name: t.text, size: int(count), align: max(align, 1), array: true}, nil
	}
	return paramDecl{name: t.text, size: size, align: max(align, size)}, nil
}

func (p *parser) parseBody(k *rawKernel) error {
	depth := 1
	for {
		if p.eof() {
			return p.errAt(p.peek(), "kernel %s: missing '}'", k.name)
		}
		t := p.peek()
		switch {
		case t.text == "{":
			p.next()
			depth++
		case t.text == "}":
			p.next()
			depth--
			if depth == 0 {
				return nil
			}
		case t.text == ".reg":
			if err := p.parseReg(k); err != nil {
				return err
			}
		case t.text == ".extern":
			return p.errAt(t, ".extern declarations belong at module scope")
		case t.text == ".shared" || t.text == ".const" || t.text == ".global":
			v, err := p.parseVar()
			if err != nil {
				return err
			}
			k.vars = append(k.vars, v)
		case t.text == ".pragma":
			p.next()
			for p.peek().text != ";" && !p.eof() {
				p.next()
			}
			p.next()
		case t.kind == tIdent && !strings.HasPrefix(t.text, ".") && !strings.HasPrefix(t.text, "%") &&
			p.pos+1 < len(p.toks) && p.toks[p.pos+1].text == ":":
			p.next()
			p.next()
			k.body = append(k.body, rawInst{label: t.text, line: t.line})
		default:
			in, err := p.parseInst()
			if err != nil {
				return err
			}
			k.body = append(k.body, in)
		}
	}
}

func (p *parser) parseReg(k *rawKernel) error {
	start := p.next()
	t := p.next()
	typ, ok := typeNames[t.text]
	if !ok {
		return p.errAt(t, "unsupported register type %q", t.text)
	}
	for {
		n := p.next()
		if n.kind != tIdent || strings.HasPrefix(n.text, ".") {
			return p.errAt(n, "expected a register name")
		}
		d := regDecl{name: n.text, count: -1, typ: typ}
		if p.peek().text == "<" {
			p.next()
			c := p.next()
			v, err := strconv.Atoi(c.text)
			if err != nil || v < 0 || v > 1<<16 {
				return p.errAt(c, "bad register count %q", c.text)
			}
			if err := p.expect(">"); err != nil {
				return err
			}
			d.count = v
		}
		k.regs = append(k.regs, d)
		sep := p.next()
		if sep.text == ";" {
			return nil
		}
		if sep.text != "," {
			return p.errAt(start, "expected ',' or ';' in .reg declaration")
		}
	}
}

func (p *parser) parseVar() (varDecl, error) {
	v := varDecl{align: 1}
	first := p.peek()
	v.line = first.line
	for {
		t := p.next()
		if t.kind != tIdent {
			return v, p.errAt(t, "expected a variable declaration")
		}
		switch {
		case t.text == ".extern":
			v.extern = true
		case t.text == ".shared" || t.text == ".const" || t.text == ".global" || t.text == ".shared::cta":
			v.space = strings.TrimSuffix(t.text, "::cta")
		case t.text == ".align":
			n := p.next()
			a, err := strconv.Atoi(n.text)
			if err != nil || a <= 0 || a&(a-1) != 0 || a > 4096 {
				return v, p.errAt(n, "bad alignment %q", n.text)
			}
			v.align = a
		case strings.HasPrefix(t.text, "."):
			typ, ok := typeNames[t.text]
			if !ok || typ == tyPred {
				return v, p.errAt(t, "unsupported variable type %q", t.text)
			}
			v.elem = typ.size()
			v.typ = typ
		default:
			v.name = t.text
			goto named
		}
	}
named:
	if v.space == "" || v.elem == 0 {
		return v, p.errAt(first, "variable %s needs a state space and a type", v.name)
	}
	v.count = 1
	if p.peek().text == "[" {
		p.next()
		if p.peek().text == "]" {
			v.count = -1
		} else {
			n := p.next()
			c, err := strconv.Atoi(n.text)
			if err != nil || c <= 0 || c > 1<<24 {
				return v, p.errAt(n, "bad array size %q", n.text)
			}
			v.count = c
		}
		if err := p.expect("]"); err != nil {
			return v, err
		}
	}
	if v.count < 0 && !(v.extern && v.space == ".shared") {
		return v, p.errAt(first, "an unsized array must be .extern .shared")
	}
	if p.peek().text == "=" {
		p.next()
		init, err := p.parseInit(v)
		if err != nil {
			return v, err
		}
		v.init = init
	}
	if err := p.expect(";"); err != nil {
		return v, err
	}
	return v, nil
}

// parseInit reads a {a, b, ...} or scalar initialiser: integer literals for
// integer types, float literals for float types, as ptxas requires.
func (p *parser) parseInit(v varDecl) ([]byte, error) {
	var vals []token
	if p.peek().text == "{" {
		p.next()
		for {
			neg := false
			if p.peek().text == "-" {
				p.next()
				neg = true
			}
			n := p.next()
			if n.kind != tNumber {
				return nil, p.errAt(n, "expected a literal in the initialiser")
			}
			if neg {
				n.text = "-" + n.text
			}
			vals = append(vals, n)
			s := p.next()
			if s.text == "}" {
				break
			}
			if s.text != "," {
				return nil, p.errAt(s, "expected ',' or '}' in the initialiser")
			}
		}
	} else {
		n := p.next()
		if n.kind != tNumber {
			return nil, p.errAt(n, "expected a literal in the initialiser")
		}
		vals = append(vals, n)
	}
	if v.count > 0 && len(vals) > v.count {
		return nil, p.errAt(vals[0], "initialiser has %d elements for %d", len(vals), v.count)
	}
	out := make([]byte, 0, len(vals)*v.elem)
	for _, n := range vals {
		neg := strings.HasPrefix(n.text, "-")
		lit := strings.TrimPrefix(n.text, "-")
		if isFloatLiteral(lit) != v.typ.isFloat() {
			return nil, p.errAt(n, "literal %s does not match the element type %v", n.text, v.typ)
		}
		bits, err := literalBits(lit, neg, v.typ)
		if err != nil {
			return nil, p.errAt(n, "%v", err)
		}
		for i := 0; i < v.elem; i++ {
			out = append(out, byte(bits>>(8*i)))
		}
	}
	return out, nil
}

func (p *parser) parseInst() (rawInst, error) {
	in := rawInst{line: p.peek().line}
	in.text = p.lineText(in.line)
	if p.peek().text == "@" {
		p.next()
		if p.peek().text == "!" {
			p.next()
			in.guardNeg = true
		}
		g := p.next()
		if g.kind != tIdent {
			return in, p.errAt(g, "expected a predicate after @")
		}
		in.guard = g.text
	}
	op := p.next()
	if op.kind != tIdent || strings.HasPrefix(op.text, "%") || strings.HasPrefix(op.text, ".") {
		return in, p.errAt(op, "expected an instruction, found %q", op.text)
	}
	in.opcode = op.text
	if p.peek().text == ";" {
		p.next()
		return in, nil
	}
	for {
		o, err := p.parseOperand()
		if err != nil {
			return in, err
		}
		in.ops = append(in.ops, o)
		s := p.next()
		if s.text == ";" {
			return in, nil
		}
		if s.text != "," {
			return in, p.errAt(s, "expected ',' or ';' after an operand, found %q", s.text)
		}
	}
}

func (p *parser) parseOperand() (rawOperand, error) {
	t := p.next()
	switch {
	case t.text == "{":
		o := rawOperand{kind: rVec}
		for {
			e, err := p.parseOperand()
			if err != nil {
				return o, err
			}
			if e.kind != rName && e.kind != rNum {
				return o, p.errAt(t, "vector elements must be registers or literals")
			}
			o.elems = append(o.elems, e)
			s := p.next()
			if s.text == "}" {
				return o, nil
			}
			if s.text != "," {
				return o, p.errAt(s, "expected ',' or '}' in a vector operand")
			}
		}
	case t.text == "[":
		o := rawOperand{kind: rAddr}
		b := p.next()
		switch b.kind {
		case tIdent:
			o.name = b.text
		case tNumber:
			v, err := parseInt(b.text)
			if err != nil {
				return o, p.errAt(b, "bad address %q", b.text)
			}
			o.off = v
		default:
			return o, p.errAt(b, "bad address operand")
		}
		if p.peek().text == "," {
			// [tensorMap, {c0, c1, ...}]: a tensor copy's source.
			p.next()
			v, err := p.parseOperand()
			if err != nil {
				return o, err
			}
			if v.kind != rVec {
				return o, p.errAt(b, "expected tensor coordinates {...}")
			}
			o.elems = v.elems
		}
		for p.peek().text == "+" || p.peek().text == "-" {
			sign := int64(1)
			if p.next().text == "-" {
				sign = -1
			}
			if p.peek().text == "-" {
				p.next()
				sign = -sign
			}
			n := p.next()
			v, err := parseInt(n.text)
			if err != nil {
				return o, p.errAt(n, "bad address offset %q", n.text)
			}
			o.off += sign * v
		}
		if err := p.expect("]"); err != nil {
			return o, err
		}
		return o, nil
	case t.text == "!":
		n := p.next()
		if n.kind != tIdent {
			return rawOperand{}, p.errAt(n, "expected a predicate after '!'")
		}
		return rawOperand{kind: rName, name: n.text, neg: true}, nil
	case t.text == "-":
		n := p.next()
		if n.kind != tNumber {
			return rawOperand{}, p.errAt(n, "expected a literal after '-'")
		}
		return rawOperand{kind: rNum, name: n.text, neg: true}, nil
	case t.kind == tNumber:
		return rawOperand{kind: rNum, name: t.text}, nil
	case t.kind == tIdent:
		o := rawOperand{kind: rName, name: t.text}
		if p.peek().text == "|" {
			p.next()
			n := p.next()
			if n.kind != tIdent {
				return o, p.errAt(n, "expected a register after '|'")
			}
			return rawOperand{kind: rPair, elems: []rawOperand{o, {kind: rName, name: n.text}}}, nil
		}
		return o, nil
	}
	return rawOperand{}, p.errAt(t, "unexpected %q in an operand", t.text)
}

func parseInt(s string) (int64, error) {
	s = strings.TrimSuffix(strings.TrimSuffix(s, "U"), "u")
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		v, err := strconv.ParseUint(s[2:], 16, 64)
		return int64(v), err
	}
	if len(s) > 1 && s[0] == '0' {
		v, err := strconv.ParseUint(s[1:], 8, 64)
		return int64(v), err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return int64(v), err
}
