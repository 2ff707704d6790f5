package ptx

// block runs f with new statements appended to *dst.
func (k *Kernel) block(dst *[]Stmt, f func()) {
	saved := k.cur
	k.cur = dst
	if f != nil {
		f()
	}
	k.cur = saved
}

// If runs then only in threads where p holds.
func (k *Kernel) If(p Reg, then func()) { k.IfElse(p, then, nil) }

// IfNot runs then only in threads where p does not hold.
func (k *Kernel) IfNot(p Reg, then func()) {
	k.check("if", ClassPred, p)
	s := &IfStmt{Cond: p, Neg: true}
	k.block(&s.Then, then)
	*k.cur = append(*k.cur, s)
}

// IfElse runs then where p holds and els elsewhere.
func (k *Kernel) IfElse(p Reg, then, els func()) {
	k.check("if", ClassPred, p)
	s := &IfStmt{Cond: p}
	k.block(&s.Then, then)
	k.block(&s.Else, els)
	*k.cur = append(*k.cur, s)
}

// For runs body for i = start; i < end; i += step, with unsigned 32-bit
// values; the body sees the index register (which it must not write).
func (k *Kernel) For(start, end, step Operand, body func(i Reg)) {
	k.check("for", ClassB32, start, end, step)
	i := k.NewReg(U32)
	s := &LoopStmt{}
	k.block(&s.Pre, func() {
		k.MovTo(i, U32, start)
		s.Skip = k.Setp("ge", U32, i, end)
	})
	k.block(&s.Body, func() { body(i) })
	k.block(&s.Post, func() {
		k.OpTo(i, "add", U32, i, step)
		s.Again = k.Setp("lt", U32, i, end)
	})
	*k.cur = append(*k.cur, s)
}

// Return leaves the kernel for the executing threads. The barrier check
// rejects a divergent return that a later bar.sync could wait for.
func (k *Kernel) Return() { *k.cur = append(*k.cur, ReturnStmt{}) }

// When predicates every instruction body emits on p (on !p when neg), with
// no branch: `@%p op ...`. The body must be straight-line code.
func (k *Kernel) When(p Reg, neg bool, body func()) {
	k.check("when", ClassPred, p)
	var tmp []Stmt
	k.block(&tmp, body)
	for _, s := range tmp {
		in, ok := s.(*Instr)
		if !ok {
			k.fail("when: control flow inside a predicated block")
			return
		}
		if in.guard.Valid() {
			k.fail("%s: already predicated", in.op)
			return
		}
		if in.barrier {
			k.fail("when: predicated bar.sync")
			return
		}
		in.guard, in.guardNeg = p, neg
		*k.cur = append(*k.cur, in)
	}
}

// ForWarp is For for bounds that are the same on every lane of a warp but
// may differ between warps (derived from the warp's index): each loop test
// goes through vote.sync.any, which tells ptxas the branch is warp-uniform,
// so shuffles in the body need no per-instruction reconvergence.
func (k *Kernel) ForWarp(start, end, step Operand, body func(i Reg)) {
	k.check("for", ClassB32, start, end, step)
	i := k.NewReg(U32)
	s := &LoopStmt{}
	k.block(&s.Pre, func() {
		k.MovTo(i, U32, start)
		s.Skip = k.VoteAny(k.Setp("ge", U32, i, end))
	})
	k.block(&s.Body, func() { body(i) })
	k.block(&s.Post, func() {
		k.OpTo(i, "add", U32, i, step)
		s.Again = k.VoteAny(k.Setp("lt", U32, i, end))
	})
	*k.cur = append(*k.cur, s)
}
