package ptxsim

// cp.async copies are queued per thread and performed when a wait retires
// their group (or the thread exits), so a kernel that reads the destination
// before waiting sees stale or uninitialised shared memory, as on hardware.

type cpOp struct {
	dst, src uint64
	n, srcN  int
	line     int32
}

type asyncState struct {
	open   []cpOp
	groups [][]cpOp
}

func (a *asyncState) commit() {
	a.groups = append(a.groups, a.open)
	a.open = nil
}

func (b *blockRun) asyncIssue(t *thread, in *inst) error {
	r := t.regs
	op := cpOp{dst: uint64(int64(r[in.d]) + in.off), src: uint64(int64(r[in.a]) + in.off2),
		n: int(in.n), srcN: int(in.n), line: in.line}
	if in.flags&fZfill != 0 {
		op.srcN = int(r[in.b] & 0xffffffff)
		if op.srcN > op.n {
			return b.fail(t, "cp.async source size %d exceeds the copy size %d", op.srcN, op.n)
		}
	}
	if op.dst%uint64(op.n) != 0 || op.src%uint64(op.n) != 0 {
		return b.fail(t, "misaligned cp.async of %d bytes (shared offset %d, global 0x%x)", op.n, op.dst, op.src)
	}
	if op.dst+uint64(op.n) > uint64(len(b.shared)) {
		return b.fail(t, "out-of-bounds cp.async destination: shared offset %d + %d bytes (block has %d)", op.dst, op.n, len(b.shared))
	}
	if op.srcN > 0 {
		if _, _, err := b.dev.bytes(op.src, op.srcN); err != nil {
			return b.fail(t, "out-of-bounds cp.async source: %v", err)
		}
	}
	if b.col != nil {
		b.col.record(t, in, CpAsync, op.src, op.srcN, op.dst, op.n)
	}
	t.async.open = append(t.async.open, op)
	return nil
}

// asyncWait completes committed groups until at most keep remain pending.
func (b *blockRun) asyncWait(t *thread, keep int) error {
	for len(t.async.groups) > keep {
		for _, op := range t.async.groups[0] {
			if err := b.asyncDo(t, op); err != nil {
				return err
			}
		}
		t.async.groups = t.async.groups[1:]
	}
	return nil
}

func (b *blockRun) asyncDo(t *thread, op cpOp) error {
	var data [16]byte
	if op.srcN > 0 {
		src, buf, err := b.dev.bytes(op.src, op.srcN)
		if err != nil {
			return b.fail(t, "cp.async from line %d: %v", op.line, err)
		}
		off := op.src - buf.base
		for i := 0; i < op.srcN && buf.gen == nil; i++ {
			if !buf.init[off+uint64(i)] {
				return b.fail(t, "cp.async from line %d reads uninitialised global memory at 0x%x", op.line, op.src+uint64(i))
			}
		}
		copy(data[:], src)
	}
	m, err := b.access(t, spShared, op.dst, op.n, true, false)
	if err != nil {
		return err
	}
	copy(m, data[:op.n])
	return nil
}
