package ptx

import (
	"fmt"
	"strconv"
	"strings"
)

type printer struct {
	b      *strings.Builder
	labels int
}

func printKernel(b *strings.Builder, k *Kernel, body []Stmt) {
	fmt.Fprintf(b, "\n.visible .entry %s(", k.name)
	for i, p := range k.params {
		if i > 0 {
			b.WriteString(",")
		}
		if k.mapParams[p] {
			fmt.Fprintf(b, "\n\t.param .align 64 .b8 %s[128]", p)
		} else {
			fmt.Fprintf(b, "\n\t.param .u64 %s", p)
		}
	}
	b.WriteString("\n)\n")
	if k.maxThreads > 0 {
		fmt.Fprintf(b, ".maxntid %d, 1, 1\n", k.maxThreads)
	}
	if k.maxRegs > 0 {
		fmt.Fprintf(b, ".maxnreg %d\n", k.maxRegs)
	}
	b.WriteString("{\n")
	for c := Class(0); c < numClasses; c++ {
		if n := k.counters[c]; n > 0 {
			fmt.Fprintf(b, "\t.reg .%s %s<%d>;\n", classDecl[c].typ, classDecl[c].prefix, n+1)
		}
	}
	for _, s := range k.shared {
		fmt.Fprintf(b, "\t.shared .align %d .b8 %s[%d];\n", s.align, s.name, s.bytes)
	}
	b.WriteString("\n")
	p := printer{b: b}
	p.stmts(body)
	b.WriteString("\tret;\n}\n")
}

// printExtern declares k's dynamic shared array at module scope (PTX does
// not accept an extern inside a function), once per name in a module.
func printExtern(b *strings.Builder, k *Kernel, done map[string]bool) {
	for _, s := range k.extern {
		if !done[s.name] {
			done[s.name] = true
			fmt.Fprintf(b, "\n.extern .shared .align %d .b8 %s[];\n", s.align, s.name)
		}
	}
}

func (p *printer) label() string {
	p.labels++
	return "$L__" + strconv.Itoa(p.labels)
}

func (p *printer) branch(pred Reg, neg bool, target string) {
	not := ""
	if neg {
		not = "!"
	}
	fmt.Fprintf(p.b, "\t@%s%v bra %s;\n", not, pred, target)
}

func (p *printer) stmts(body []Stmt) {
	for _, s := range body {
		switch s := s.(type) {
		case *Instr:
			p.instr(s)
		case *IfStmt:
			end := p.label()
			if len(s.Else) == 0 {
				p.branch(s.Cond, !s.Neg, end)
				p.stmts(s.Then)
			} else {
				els := p.label()
				p.branch(s.Cond, !s.Neg, els)
				p.stmts(s.Then)
				fmt.Fprintf(p.b, "\tbra %s;\n%s:\n", end, els)
				p.stmts(s.Else)
			}
			fmt.Fprintf(p.b, "%s:\n", end)
		case *LoopStmt:
			top, end := p.label(), p.label()
			p.stmts(s.Pre)
			p.branch(s.Skip, false, end)
			fmt.Fprintf(p.b, "%s:\n", top)
			p.stmts(s.Body)
			p.stmts(s.Post)
			p.branch(s.Again, false, top)
			fmt.Fprintf(p.b, "%s:\n", end)
		case ReturnStmt:
			p.b.WriteString("\tret;\n")
		}
	}
}

func (p *printer) instr(in *Instr) {
	p.b.WriteString("\t")
	if in.guard.Valid() {
		if in.guardNeg {
			p.b.WriteString("@!")
		} else {
			p.b.WriteString("@")
		}
		p.b.WriteString(in.guard.String() + " ")
	}
	p.b.WriteString(in.op)
	for i, a := range in.args {
		if i == 0 {
			p.b.WriteString(" ")
		} else {
			p.b.WriteString(", ")
		}
		p.b.WriteString(a.op.String())
	}
	p.b.WriteString(";\n")
}
