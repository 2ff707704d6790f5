package ptxsim

import (
	"encoding/binary"
	"fmt"

	"github.com/nf4go/nf4/kernels/tensormap"
)

// The sm_90a machinery: mbarriers, tensor copies and warpgroup MMA.
//
// An mbarrier lives in 8 bytes of shared memory; its state (expected and
// pending arrivals, transaction count, phase) is kept beside the block,
// keyed by the offset. A phase completes when its pending arrivals and its
// transaction count both reach zero; an arrival on a phase whose arrivals
// are all in, or more bytes completing than were expected once they are,
// is a fault. try_wait.parity P holds once the phase of parity P has
// completed, i.e. while the current phase's parity differs from P.
//
// Tensor copies are queued when issued and land late: when a thread waits
// on the barrier they complete on (or sleeps there), so a kernel that reads
// a stage before waiting reads stale or uninitialised memory. Landing
// writes the box, zeros where it lies outside the tensor, at the swizzled
// offsets of tensormap.Swizzle.Offset, and completes the box's bytes on the
// barrier.
//
// wgmma.mma_async runs when all 128 threads of the warpgroup reach it: it
// reads A and B from shared memory through the descriptors, then and
// again when wait_group retires it (a fault if they changed in between),
// and writes the accumulators only at that wait_group: until then the
// registers hold their old values. Chained wgmmas on the same accumulators
// see each other's results, as the hardware chains them. Shared bytes a
// thread wrote with ordinary stores are readable by wgmma only after that
// thread's fence.proxy.async.

type mbarState struct {
	count, pending int
	tx             int64
	phase          uint32
}

type tmaOp struct {
	m        tensormap.Map2D
	dst, bar uint64
	c0, c1   int64
	line     int32
	issuer   *thread
}

// wgResult is one wgmma's accumulators for the 128 threads of a warpgroup,
// and the operand bytes it read, to be checked unchanged at retirement.
type wgResult struct {
	slots []int32
	vals  [][128]uint64
	opnd  []wgOperand
	line  int32
}

type wgOperand struct {
	addrs []uint64
	bytes []byte
}

type wgState struct {
	open   []wgResult
	groups [][]wgResult
	shadow map[int32]*[128]uint64 // newest pending value of each accumulator slot
}

// hopperState is the per-block state of the sm_90a instructions.
type hopperState struct {
	stalls  int // try_wait timeouts since a phase last completed
	bars    map[uint64]*mbarState
	copies  []tmaOp
	groups  []wgState
	pWriter []int32  // per shared byte: 1 + the thread whose store is not yet fenced, 0 if none
	pFence  []uint32 // that thread's fence count at the store
}

func (b *blockRun) resetHopper() {
	h := &b.hop
	clear(h.bars)
	h.copies = h.copies[:0]
	h.stalls = 0
	h.groups = h.groups[:0]
	for i := 0; i < (len(b.threads)+127)/128; i++ {
		h.groups = append(h.groups, wgState{})
	}
	if len(h.pWriter) != len(b.shared) {
		h.pWriter = make([]int32, len(b.shared))
		h.pFence = make([]uint32, len(b.shared))
	} else {
		clear(h.pWriter)
	}
}

// noteStore records ordinary shared stores for the proxy-fence check.
func (b *blockRun) noteStore(t *thread, addr uint64, n int) {
	if b.hop.pWriter == nil {
		return
	}
	for i := addr; i < addr+uint64(n); i++ {
		b.hop.pWriter[i] = t.idx + 1
		b.hop.pFence[i] = t.fences
	}
}

func (b *blockRun) barAt(t *thread, in *inst) (uint64, *mbarState, error) {
	addr := uint64(int64(t.regs[in.a]) + in.off)
	if addr%8 != 0 || addr+8 > uint64(len(b.shared)) {
		return 0, nil, b.fail(t, "mbarrier at shared offset %d: misaligned or out of bounds (block has %d bytes)", addr, len(b.shared))
	}
	if in.op == opMbarInit {
		return addr, nil, nil
	}
	s := b.hop.bars[addr]
	if s == nil {
		return 0, nil, b.fail(t, "mbarrier at shared offset %d was never initialised", addr)
	}
	return addr, s, nil
}

func (b *blockRun) mbarInit(t *thread, in *inst) error {
	addr, _, err := b.barAt(t, in)
	if err != nil {
		return err
	}
	n := int(t.regs[in.b] & 0xffffffff)
	if n < 1 || n > 1<<20-1 {
		return b.fail(t, "mbarrier.init count %d is outside 1..2^20-1", n)
	}
	if b.hop.bars == nil {
		b.hop.bars = map[uint64]*mbarState{}
	}
	b.hop.bars[addr] = &mbarState{count: n, pending: n}
	for i := addr; i < addr+8; i++ {
		b.sinit[i] = true
		b.shared[i] = 0
	}
	return nil
}

func (b *blockRun) mbarArrive(t *thread, in *inst) error {
	addr, s, err := b.barAt(t, in)
	if err != nil {
		return err
	}
	t.regs[in.d] = uint64(s.phase)
	if in.flags&fExpectTx != 0 {
		s.tx += int64(t.regs[in.b] & 0xffffffff)
	}
	if s.pending == 0 {
		return b.fail(t, "mbarrier at shared offset %d: arrival beyond the %d expected in phase %d", addr, s.count, s.phase)
	}
	s.pending--
	return b.mbarSettle(t, addr, s)
}

// mbarSettle completes the phase if it is done, or faults on a
// transaction count below zero once every arrival is in.
func (b *blockRun) mbarSettle(t *thread, addr uint64, s *mbarState) error {
	if s.pending > 0 {
		return nil
	}
	if s.tx < 0 {
		return b.fail(t, "mbarrier at shared offset %d: %d bytes more completed than expected in phase %d", addr, -s.tx, s.phase)
	}
	if s.tx == 0 {
		s.phase++
		s.pending = s.count
		b.hop.stalls = 0
	}
	return nil
}

// mbarTryWait executes try_wait.parity: when the phase has not completed
// it lands the copies the barrier waits for; if it is still open, the
// thread sleeps (ready reports false) and runs the instruction again when
// woken.
func (b *blockRun) mbarTryWait(t *thread, in *inst) (ready bool, err error) {
	addr, s, err := b.barAt(t, in)
	if err != nil {
		return false, err
	}
	parity := uint32(t.regs[in.b] & 1)
	if s.phase&1 == parity {
		if err := b.landCopies(t, addr); err != nil {
			return false, err
		}
	}
	if s.phase&1 != parity {
		t.regs[in.d] = 1
		return true, nil
	}
	return false, nil
}

// maxStalls is how many times in a row the sleepers in try_wait may time
// out with no phase completing before the block is declared deadlocked.
const maxStalls = 4

// wakeSleepers lets threads sleeping in try_wait run again once their phase
// completed, landing the copies each one waits for. When none can, and
// nothing else can run, try_wait times out for them all: it answers false
// and the threads go on (to try again, as a wait loop does). It reports
// whether any thread can run.
func (b *blockRun) wakeSleepers() (bool, error) {
	woke, sleeping := false, false
	for i := range b.threads {
		t := &b.threads[i]
		if t.state != stMbar {
			continue
		}
		in := &b.k.code[t.pc]
		addr, s, err := b.barAt(t, in)
		if err != nil {
			return false, err
		}
		if err := b.landCopies(t, addr); err != nil {
			return false, err
		}
		if s.phase&1 != uint32(t.regs[in.b]&1) {
			t.state = stRun
			woke = true
		} else {
			sleeping = true
		}
	}
	if woke || !sleeping {
		return woke, nil
	}
	b.hop.stalls++
	for i := range b.threads {
		t := &b.threads[i]
		if t.state != stMbar {
			continue
		}
		if b.hop.stalls > maxStalls {
			return false, b.fail(t, "deadlock: waits on an mbarrier phase that can never complete")
		}
		t.regs[b.k.code[t.pc].d] = 0
		t.state = stRun
		t.pc++
	}
	return true, nil
}

func (b *blockRun) tensorIssue(t *thread, in *inst) error {
	mp := t.regs[in.a]
	var raw []byte
	switch {
	case mp >= paramWindow && mp+tensormap.Size <= paramWindow+uint64(len(b.params)):
		raw = b.params[mp-paramWindow : mp-paramWindow+tensormap.Size]
	default:
		g, _, err := b.dev.bytes(mp, tensormap.Size)
		if err != nil {
			return b.fail(t, "tensor map at 0x%x: %v", mp, err)
		}
		raw = g
	}
	m, err := tensormap.Decode(raw)
	if err != nil {
		return b.fail(t, "tensor map at 0x%x: %v", mp, err)
	}
	dst := uint64(int64(t.regs[in.d]) + in.off)
	align := uint64(128)
	if sp := m.Swizzle.Span(); sp > 0 {
		align = uint64(8 * sp)
	}
	if dst%align != 0 {
		return b.fail(t, "tensor copy destination at shared offset %d is not aligned to %d bytes (swizzle %v)", dst, align, m.Swizzle)
	}
	if dst+uint64(m.BoxBytes()) > uint64(len(b.shared)) {
		return b.fail(t, "tensor copy of %d bytes to shared offset %d overruns the block's %d bytes", m.BoxBytes(), dst, len(b.shared))
	}
	bar := uint64(int64(t.regs[in.b]) + in.off2)
	if b.hop.bars[bar] == nil {
		return b.fail(t, "tensor copy completes on shared offset %d, which holds no initialised mbarrier", bar)
	}
	op := tmaOp{m: m, dst: dst, bar: bar, line: in.line, issuer: t,
		c0: int64(int32(t.regs[in.va[0]])), c1: int64(int32(t.regs[in.va[1]]))}
	if b.col != nil {
		b.col.tensorCopy(t.pc, m, op.c0, op.c1)
	}
	b.hop.copies = append(b.hop.copies, op)
	return nil
}

// landCopies performs the queued copies that complete on the barrier at
// bar, in issue order.
func (b *blockRun) landCopies(t *thread, bar uint64) error {
	rest := b.hop.copies[:0]
	var due []tmaOp
	for _, op := range b.hop.copies {
		if op.bar == bar {
			due = append(due, op)
		} else {
			rest = append(rest, op)
		}
	}
	b.hop.copies = rest
	for _, op := range due {
		if err := b.land(op); err != nil {
			return err
		}
		s := b.hop.bars[bar]
		if s == nil {
			return b.fail(t, "the mbarrier that the tensor copy of line %d completes on is gone", op.line)
		}
		s.tx -= int64(op.m.BoxBytes())
		if err := b.mbarSettle(t, bar, s); err != nil {
			return err
		}
	}
	return nil
}

func (b *blockRun) land(op tmaOp) error {
	m := op.m
	eb := m.Elem.Bytes()
	row := int(m.BoxCols) * eb
	for r := 0; r < int(m.BoxRows); r++ {
		gr := op.c1 + int64(r)
		for c := 0; c < int(m.BoxCols); c++ {
			gc := op.c0 + int64(c)
			off := m.Swizzle.Offset(r*row + c*eb)
			d := b.shared[op.dst+uint64(off) : op.dst+uint64(off)+uint64(eb)]
			if gr < 0 || gc < 0 || uint64(gr) >= m.Rows || uint64(gc) >= m.Cols {
				clear(d)
			} else {
				addr := m.Base + uint64(gr)*m.RowStride + uint64(gc)*uint64(eb)
				src, buf, err := b.dev.bytes(addr, eb)
				if err != nil {
					return b.fail(op.issuer, "tensor copy of line %d: %v", op.line, err)
				}
				if buf.gen == nil {
					o := addr - buf.base
					for i := 0; i < eb; i++ {
						if !buf.init[o+uint64(i)] {
							return b.fail(op.issuer, "tensor copy of line %d reads uninitialised global memory at 0x%x", op.line, addr)
						}
					}
				}
				copy(d, src)
			}
			for i := 0; i < eb; i++ {
				a := op.dst + uint64(off+i)
				b.sinit[a] = true
				b.hop.pWriter[a] = 0
			}
		}
	}
	return nil
}

// resolveGroups fires the warpgroup collectives whose 128 threads all wait
// at them.
func (b *blockRun) resolveGroups() (bool, error) {
	fired := false
	for g := range b.hop.groups {
		lo, hi := 128*g, min(128*g+128, len(b.threads))
		t := &b.threads[lo]
		if t.state != stWarp || !b.k.code[t.pc].op.isGroupOp() {
			continue
		}
		if hi-lo != 128 {
			return false, b.fail(t, "warpgroup instruction in a warpgroup of only %d threads", hi-lo)
		}
		ready := true
		for i := lo; i < hi; i++ {
			u := &b.threads[i]
			if u.state == stDone {
				return false, b.fail(t, "thread %d of the warpgroup has exited", i-lo)
			}
			if u.state != stWarp || u.pc != t.pc {
				ready = false
				break
			}
		}
		if !ready {
			continue
		}
		if err := b.groupOp(g, &b.k.code[t.pc]); err != nil {
			return false, err
		}
		for i := lo; i < hi; i++ {
			b.threads[i].state = stRun
			b.threads[i].pc++
		}
		fired = true
	}
	return fired, nil
}

func (b *blockRun) groupOp(g int, in *inst) error {
	ws := &b.hop.groups[g]
	th := b.threads[128*g : 128*g+128]
	switch in.op {
	case opWgCommit:
		ws.groups = append(ws.groups, ws.open)
		ws.open = nil
	case opWgWait:
		for len(ws.groups) > int(in.off) {
			for _, r := range ws.groups[0] {
				if err := b.wgRetire(&th[0], r); err != nil {
					return err
				}
			}
			ws.groups = ws.groups[1:]
		}
		if len(ws.groups) == 0 && len(ws.open) == 0 {
			ws.shadow = nil
		}
	case opWgmma:
		return b.wgmma(ws, th, in)
	}
	return nil
}

func (b *blockRun) wgRetire(t *thread, r wgResult) error {
	for _, o := range r.opnd {
		for i, a := range o.addrs {
			if b.shared[a] != o.bytes[2*i] || b.shared[a+1] != o.bytes[2*i+1] {
				return b.fail(t, "the wgmma of line %d: its operand at shared offset %d changed before wait_group retired it", r.line, a)
			}
		}
	}
	for j, s := range r.slots {
		g := (int(t.idx) / 128) * 128
		for l := 0; l < 128; l++ {
			b.threads[g+l].regs[s] = r.vals[j][l]
		}
	}
	return nil
}

// descAddr is the shared offset of element (row, k) of a K-major operand
// with 2-byte elements described by desc (PTX ISA, "Matrix Descriptor
// Format" and the canonical K-major layouts): rows grouped by eight SBO
// apart; without swizzle, 8×16-byte core matrices LBO apart along K; with
// a swizzle of span S, rows S bytes apart and address bits 4.. XORed with
// bits 7.. (as many as S/16 chunks need), on the absolute address.
func descAddr(desc uint64, row, k int) (uint64, bool) {
	start := (desc & 0x3FFF) << 4
	lbo := ((desc >> 16) & 0x3FFF) << 4
	sbo := ((desc >> 32) & 0x3FFF) << 4
	if (desc>>49)&7 != 0 {
		return 0, false
	}
	r8, rr := uint64(row/8), uint64(row%8)
	var span uint64
	switch desc >> 62 {
	case 0:
		return start + r8*sbo + uint64(k/8)*lbo + rr*16 + uint64(k%8)*2, true
	case 1:
		span = 128
	case 2:
		span = 64
	case 3:
		span = 32
	}
	a := start + r8*sbo + rr*span + uint64(k)*2
	return a ^ (((a >> 7) & (span/16 - 1)) << 4), true
}

// wgFragD is the accumulator element thread l (0..127) of a warpgroup holds
// in register i of m64nNk16: warp l/32 owns rows 16·(l/32)…+15, laid out
// in 8-column blocks as the m16n8 D fragment.
func wgFragD(l, i int) (row, col int) {
	w, lane := l/32, l%32
	g, q := lane/4, lane%4
	row = 16*w + g + 8*((i>>1)&1)
	col = 8*(i/4) + 2*q + i&1
	return
}

func (b *blockRun) wgOperand(t *thread, desc uint64, rows int, what string, in *inst) ([][16]float64, wgOperand, error) {
	vals := make([][16]float64, rows)
	o := wgOperand{addrs: make([]uint64, 0, rows*16), bytes: make([]byte, 0, rows*32)}
	for r := 0; r < rows; r++ {
		for k := 0; k < 16; k++ {
			a, ok := descAddr(desc, r, k)
			if !ok {
				return nil, o, b.fail(t, "wgmma %s descriptor %#x: a non-zero base offset is not supported", what, desc)
			}
			if a+2 > uint64(len(b.shared)) {
				return nil, o, b.fail(t, "wgmma %s descriptor %#x: element (%d, %d) at shared offset %d is out of bounds (block has %d bytes)", what, desc, r, k, a, len(b.shared))
			}
			for i := a; i < a+2; i++ {
				if !b.sinit[i] {
					return nil, o, b.fail(t, "wgmma %s reads uninitialised shared memory at offset %d (element %d, %d)", what, i, r, k)
				}
				if w := b.hop.pWriter[i]; w != 0 && b.threads[w-1].fences == b.hop.pFence[i] {
					return nil, o, b.fail(t, "wgmma %s reads shared offset %d, which thread %d stored with no fence.proxy.async since", what, i, w-1)
				}
			}
			h := binary.LittleEndian.Uint16(b.shared[a:])
			vals[r][k] = halfOrBF16(h, in.t)
			o.addrs = append(o.addrs, a)
			o.bytes = append(o.bytes, b.shared[a], b.shared[a+1])
		}
	}
	return vals, o, nil
}

func (b *blockRun) wgmma(ws *wgState, th []thread, in *inst) error {
	t := &th[0]
	da, db := t.regs[in.a], t.regs[in.b]
	scaleD := (t.regs[in.c] != 0) != in.cneg
	for i := range th {
		u := &th[i]
		if u.regs[in.a] != da || u.regs[in.b] != db || ((u.regs[in.c] != 0) != in.cneg) != scaleD {
			return b.fail(u, "wgmma operands differ across the warpgroup (descriptors %#x %#x, thread 0 has %#x %#x)", u.regs[in.a], u.regs[in.b], da, db)
		}
	}
	n := 8 * int(in.n)
	A, oa, err := b.wgOperand(t, da, 64, "A", in)
	if err != nil {
		return err
	}
	B, ob, err := b.wgOperand(t, db, n, "B", in)
	if err != nil {
		return err
	}
	sign := float64(in.off * in.off2)
	if ws.shadow == nil {
		ws.shadow = map[int32]*[128]uint64{}
	}
	res := wgResult{slots: in.vd, vals: make([][128]uint64, len(in.vd)), opnd: []wgOperand{oa, ob}, line: in.line}
	for i, s := range in.vd {
		sh := ws.shadow[s]
		for l := 0; l < 128; l++ {
			row, col := wgFragD(l, i)
			acc := 0.0
			if scaleD {
				if sh != nil {
					acc = float64(f32(sh[l]))
				} else {
					acc = float64(f32(th[l].regs[s]))
				}
			}
			for k := 0; k < 16; k++ {
				acc += sign * A[row][k] * B[col][k]
			}
			res.vals[i][l] = b32(float32(acc))
		}
		v := res.vals[i]
		ws.shadow[s] = &v
	}
	ws.open = append(ws.open, res)
	return nil
}

func (s mbarState) String() string {
	return fmt.Sprintf("phase %d, %d of %d arrivals pending, tx %d", s.phase, s.pending, s.count, s.tx)
}
