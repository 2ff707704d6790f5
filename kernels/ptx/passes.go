package ptx

import "fmt"

// eliminateDead drops side-effect-free instructions whose results are never
// read, repeating until nothing changes. It returns a new body.
func eliminateDead(body []Stmt) []Stmt {
	for {
		used := map[Reg]bool{}
		markUses(body, used)
		removed := 0
		body = filterDead(body, used, &removed)
		if removed == 0 {
			return body
		}
	}
}

func markUses(body []Stmt, used map[Reg]bool) {
	for _, s := range body {
		switch s := s.(type) {
		case *Instr:
			for _, r := range s.uses() {
				used[r] = true
			}
		case *IfStmt:
			used[s.Cond] = true
			markUses(s.Then, used)
			markUses(s.Else, used)
		case *LoopStmt:
			used[s.Skip] = true
			used[s.Again] = true
			markUses(s.Pre, used)
			markUses(s.Body, used)
			markUses(s.Post, used)
		}
	}
}

func filterDead(body []Stmt, used map[Reg]bool, removed *int) []Stmt {
	out := make([]Stmt, 0, len(body))
	for _, s := range body {
		switch s := s.(type) {
		case *Instr:
			if !s.effect && !s.barrier && len(s.defs()) > 0 && !anyUsed(s.defs(), used) {
				*removed++
				continue
			}
			out = append(out, s)
		case *IfStmt:
			c := *s
			c.Then = filterDead(s.Then, used, removed)
			c.Else = filterDead(s.Else, used, removed)
			out = append(out, &c)
		case *LoopStmt:
			c := *s
			c.Pre = filterDead(s.Pre, used, removed)
			c.Body = filterDead(s.Body, used, removed)
			c.Post = filterDead(s.Post, used, removed)
			out = append(out, &c)
		default:
			out = append(out, s)
		}
	}
	return out
}

func anyUsed(rs []Reg, used map[Reg]bool) bool {
	for _, r := range rs {
		if used[r] {
			return true
		}
	}
	return false
}

// divergence finds the registers whose value may differ between threads of
// one block: anything computed from %tid or %laneid, from a divergent value,
// from shuffles and atomics, or written under divergent control flow.
func divergence(body []Stmt) map[Reg]bool {
	div := map[Reg]bool{}
	for {
		n := len(div)
		markDivergent(body, false, div)
		if len(div) == n {
			return div
		}
	}
}

func markDivergent(body []Stmt, ctl bool, div map[Reg]bool) {
	for _, s := range body {
		switch s := s.(type) {
		case *Instr:
			d := ctl || s.sync || (s.effect && len(s.defs()) > 0) || (s.guard.Valid() && div[s.guard])
			for _, a := range s.args {
				if sp, ok := a.op.(Special); ok && sp.divergent() {
					d = true
				}
			}
			for _, r := range s.uses() {
				d = d || div[r]
			}
			if d {
				for _, r := range s.defs() {
					div[r] = true
				}
			}
		case *IfStmt:
			c := ctl || div[s.Cond]
			markDivergent(s.Then, c, div)
			markDivergent(s.Else, c, div)
		case *LoopStmt:
			markDivergent(s.Pre, ctl, div)
			c := ctl || div[s.Skip] || div[s.Again]
			markDivergent(s.Body, c, div)
			markDivergent(s.Post, c, div)
		}
	}
}

// checkBarriers rejects a bar.sync that not every thread of the block can
// reach: one under a thread-dependent branch or loop, or one after (or in
// the same loop as) a thread-dependent return.
func checkBarriers(name string, body []Stmt) error {
	div := divergence(body)
	c := barrierChecker{div: div}
	c.visit(body, false)
	if c.err != nil {
		return fmt.Errorf("ptx: kernel %s: %w", name, c.err)
	}
	return nil
}

type barrierChecker struct {
	div      map[Reg]bool
	divRet   bool // a divergent return has been seen
	err      error
	barriers int
}

func (c *barrierChecker) visit(body []Stmt, ctl bool) {
	for _, s := range body {
		if c.err != nil {
			return
		}
		switch s := s.(type) {
		case *Instr:
			if !s.barrier {
				continue
			}
			c.barriers++
			switch {
			case ctl:
				c.err = fmt.Errorf("bar.sync under thread-dependent control flow")
			case c.divRet:
				c.err = fmt.Errorf("bar.sync after a thread-dependent return")
			}
		case *IfStmt:
			cc := ctl || c.div[s.Cond]
			c.visit(s.Then, cc)
			c.visit(s.Else, cc)
		case *LoopStmt:
			c.visit(s.Pre, ctl)
			cc := ctl || c.div[s.Skip] || c.div[s.Again]
			before, retBefore := c.barriers, c.divRet
			c.visit(s.Body, cc)
			c.visit(s.Post, cc)
			if c.err == nil && !retBefore && c.divRet && c.barriers > before {
				c.err = fmt.Errorf("bar.sync in a loop that a thread-dependent return leaves")
			}
		case ReturnStmt:
			if ctl {
				c.divRet = true
			}
		}
	}
}
