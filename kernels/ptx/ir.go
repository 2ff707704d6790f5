package ptx

// Stmt is one node of a kernel body: an instruction or a structured
// control-flow construct whose labels the printer generates.
type Stmt interface{ stmt() }

// arg is one printed operand of an instruction and whether it is written.
type arg struct {
	op  Operand
	def bool
}

// Instr is a single PTX instruction.
type Instr struct {
	op       string
	args     []arg
	guard    Reg // optional predicate guard
	guardNeg bool
	effect   bool  // has a side effect: never removed
	barrier  bool  // bar.sync and friends
	sync     bool  // warp-synchronous (shfl, mma, ldmatrix): every lane must arrive
	reads    []Reg // registers read but not printed as a use (wgmma's accumulators)
}

// IfStmt runs Then when Cond (negated if Neg) holds, Else otherwise.
type IfStmt struct {
	Cond Reg
	Neg  bool
	Then []Stmt
	Else []Stmt
}

// LoopStmt is a guarded do-while loop:
//
//	Pre; if Skip { goto end }; loop: Body; Post; if Again { goto loop }; end:
type LoopStmt struct {
	Pre, Body, Post []Stmt
	Skip, Again     Reg
}

// ReturnStmt leaves the kernel.
type ReturnStmt struct{}

func (*Instr) stmt()     {}
func (*IfStmt) stmt()    {}
func (*LoopStmt) stmt()  {}
func (ReturnStmt) stmt() {}

func (in *Instr) defs() []Reg {
	var out []Reg
	for _, a := range in.args {
		if a.def {
			out = append(out, a.op.regs()...)
		}
	}
	return out
}

func (in *Instr) uses() []Reg {
	var out []Reg
	for _, a := range in.args {
		if !a.def {
			out = append(out, a.op.regs()...)
		}
	}
	if in.guard.Valid() {
		out = append(out, in.guard)
	}
	return append(out, in.reads...)
}
