package ptxsim

import (
	"slices"

	"github.com/nf4go/nf4/kernels/tensormap"
)

// collector gathers one launch's profile for the block being run.
type collector struct {
	kp    *KernelProfile
	ncode int
	execs []int32 // per thread × instruction: times reached in this block
	pend  []map[uint64]*laneReq
	free  []*laneReq
	// sectors read through L1 by this block, and by the whole launch
	cta, launch       map[uint64]struct{}
	requested, missed int64
	l1                *lru
}

// lru is a least-recently-used set of sectors.
type lru struct {
	cap        int
	nodes      map[uint64]*lruNode
	head, tail *lruNode // head most recent
}

type lruNode struct {
	key        uint64
	prev, next *lruNode
}

func newLRU(n int) *lru { return &lru{cap: n, nodes: map[uint64]*lruNode{}} }

func (c *lru) unlink(n *lruNode) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		c.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		c.tail = n.prev
	}
	n.prev, n.next = nil, nil
}

func (c *lru) front(n *lruNode) {
	n.next = c.head
	if c.head != nil {
		c.head.prev = n
	}
	c.head = n
	if c.tail == nil {
		c.tail = n
	}
}

// touch reports whether key was present, and makes it the most recent.
func (c *lru) touch(key uint64) bool {
	if n, ok := c.nodes[key]; ok {
		c.unlink(n)
		c.front(n)
		return true
	}
	var n *lruNode
	if len(c.nodes) >= c.cap {
		n = c.tail
		c.unlink(n)
		delete(c.nodes, n.key)
	} else {
		n = new(lruNode)
	}
	n.key = key
	c.nodes[key] = n
	c.front(n)
	return false
}

// laneReq is one warp-level request being assembled lane by lane.
type laneReq struct {
	pc    int32
	class MemClass
	noL1  bool
	mask  uint32
	addr  [32]uint64 // global or shared address (cp.async: the global source)
	dst   [32]uint64 // cp.async: the shared destination
	n     [32]uint8  // bytes (cp.async: bytes read from global)
	width [32]uint8  // bytes written to shared by a cp.async
}

func newCollector(p *Profile, k *Kernel, nthreads, nwarps int) *collector {
	c := &collector{kp: p.forKernel(k), ncode: len(k.code), execs: make([]int32, nthreads*len(k.code)),
		pend: make([]map[uint64]*laneReq, nwarps), launch: map[uint64]struct{}{}}
	if p.L1Bytes > 0 {
		c.l1 = newLRU(int(max(1, p.L1Bytes/32)))
	}
	for i := range c.pend {
		c.pend[i] = map[uint64]*laneReq{}
	}
	return c
}

func (c *collector) threadExecs(i int) []int32 {
	return c.execs[i*c.ncode : (i+1)*c.ncode : (i+1)*c.ncode]
}

func (c *collector) beginBlock() {
	clear(c.execs)
	c.cta = map[uint64]struct{}{}
	c.requested, c.missed = 0, 0
	if c.l1 != nil {
		c.l1 = newLRU(c.l1.cap)
	}
}

// endBlock folds the block's issue counts into the profile: a warp issues
// an instruction as often as its busiest lane reached it.
func (c *collector) endBlock(b *blockRun) {
	c.flush()
	for w := 0; w < b.nwarps; w++ {
		lo, hi := 32*w, min(32*w+32, len(b.threads))
		for pc := 0; pc < c.ncode; pc++ {
			var most, sum int64
			for i := lo; i < hi; i++ {
				n := int64(c.execs[i*c.ncode+pc])
				sum += n
				most = max(most, n)
			}
			s := &c.kp.Instrs[pc]
			s.WarpExecs += most
			s.ThreadExecs += sum
		}
	}
	c.kp.Warps += int64(b.nwarps)
	c.kp.CTAs = append(c.kp.CTAs, CTAStats{CTA: b.ctaid, CachedSectors: int64(len(c.cta)),
		RequestedCachedSectors: c.requested, MissedSectors: c.missed})
}

func (c *collector) endLaunch() {
	c.kp.Launches++
	c.kp.UniqueCachedSectors += int64(len(c.launch))
}

// record adds lane t's part of the request instruction in is making.
func (c *collector) record(t *thread, in *inst, class MemClass, addr uint64, n int, dst uint64, width int) {
	key := uint64(t.pc)<<32 | uint64(uint32(t.execs[t.pc]))
	pend := c.pend[t.warp]
	r := pend[key]
	if r == nil {
		if k := len(c.free); k > 0 {
			r = c.free[k-1]
			c.free = c.free[:k-1]
		} else {
			r = new(laneReq)
		}
		r.pc, r.class, r.mask = t.pc, class, 0
		r.noL1 = in.flags&fNoL1 != 0
		pend[key] = r
	}
	l := t.lane
	r.mask |= 1 << uint(l)
	r.addr[l], r.n[l], r.dst[l], r.width[l] = addr, uint8(n), dst, uint8(width)
}

// flush turns every assembled request into counters. It runs whenever all
// threads of the block wait, so each warp's lanes have caught up.
func (c *collector) flush() {
	for _, pend := range c.pend {
		if len(pend) == 0 {
			continue
		}
		// Deterministic order: L1 reuse depends on it.
		keys := make([]uint64, 0, len(pend))
		for k := range pend {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			r := pend[k]
			c.finish(r)
			c.free = append(c.free, r)
		}
		clear(pend)
	}
}

func (c *collector) finish(r *laneReq) {
	s := &c.kp.Instrs[r.pc]
	s.Class = r.class
	s.Requests++
	for l := 0; l < 32; l++ {
		if r.mask&(1<<uint(l)) != 0 {
			s.Bytes += int64(r.n[l])
		}
	}
	switch r.class {
	case GlobalLoad, GlobalStore, GlobalAtomic:
		sec, lines := c.sectors(r, &r.addr, &r.n)
		s.Sectors += int64(len(sec))
		s.Lines += lines
		wf, ideal := wavefronts(r.mask, &r.addr, &r.n)
		s.Wavefronts += wf
		s.IdealWavefronts += ideal
		s.L2Sectors += c.toL2(sec, r.class == GlobalLoad && !r.noL1)
	case SharedLoad, SharedStore, SharedAtomic:
		wf, ideal := wavefronts(r.mask, &r.addr, &r.n)
		s.Wavefronts += wf
		s.IdealWavefronts += ideal
	case CpAsync:
		sec, lines := c.sectors(r, &r.addr, &r.n)
		s.Sectors += int64(len(sec))
		s.Lines += lines
		s.L2Sectors += c.toL2(sec, !r.noL1)
		wf, ideal := wavefronts(r.mask, &r.dst, &r.width)
		s.Wavefronts += wf
		s.IdealWavefronts += ideal
	}
}

// sectors lists the distinct 32-byte sectors a request touches and counts
// its distinct 128-byte lines.
func (c *collector) sectors(r *laneReq, addr *[32]uint64, n *[32]uint8) ([]uint64, int64) {
	var buf [64]uint64
	sec := buf[:0]
	for l := 0; l < 32; l++ {
		if r.mask&(1<<uint(l)) == 0 || n[l] == 0 {
			continue
		}
		for a := addr[l] >> 5; a <= (addr[l]+uint64(n[l])-1)>>5; a++ {
			sec = append(sec, a)
		}
	}
	slices.Sort(sec)
	sec = slices.Compact(sec)
	var lines int64
	for i, a := range sec {
		if i == 0 || a>>2 != sec[i-1]>>2 {
			lines++
		}
	}
	return sec, lines
}

// toL2 counts the sectors that go on to L2: all of them, or for an
// L1-allocating load those that miss the block's L1.
func (c *collector) toL2(sec []uint64, cached bool) int64 {
	if !cached {
		return int64(len(sec))
	}
	var miss int64
	for _, a := range sec {
		c.requested++
		c.launch[a] = struct{}{}
		_, seen := c.cta[a]
		if !seen {
			c.cta[a] = struct{}{}
		}
		if c.l1 != nil {
			seen = c.l1.touch(a)
		}
		if !seen {
			miss++
		}
	}
	c.missed += miss
	return miss
}

// ldmatrix counts a warp's ldmatrix: lanes 8j..8j+7 address the 16-byte
// rows of matrix j, and each matrix is one phase.
func (c *collector) ldmatrix(in *inst, pc int32, lanes *[32]*thread) {
	s := &c.kp.Instrs[pc]
	s.Requests++
	for j := 0; j < int(in.n); j++ {
		var addr [32]uint64
		var n [32]uint8
		var mask uint32
		for r := 0; r < 8; r++ {
			u := lanes[8*j+r]
			addr[r] = uint64(int64(u.regs[in.a]) + in.off)
			n[r] = 16
			mask |= 1 << uint(r)
		}
		wf, ideal := wavefronts(mask, &addr, &n)
		s.Wavefronts += wf
		s.IdealWavefronts += ideal
		s.Bytes += 8 * 16
	}
}

func (c *collector) shuffle(pc int32) { c.kp.Instrs[pc].Requests++ }

// tensorCopy counts one box copy: the sectors of its rows that lie in the
// tensor, all sent to L2 (the copy bypasses L1), and a shared-memory
// wavefront per 128 bytes of the box.
func (c *collector) tensorCopy(pc int32, m tensormap.Map2D, c0, c1 int64) {
	s := &c.kp.Instrs[pc]
	s.Class = TensorCopy
	s.Requests++
	eb := int64(m.Elem.Bytes())
	lo, hi := max(c0, 0), min(c0+int64(m.BoxCols), int64(m.Cols))
	for r := max(c1, 0); r < min(c1+int64(m.BoxRows), int64(m.Rows)) && lo < hi; r++ {
		a := m.Base + uint64(r)*m.RowStride + uint64(lo*eb)
		e := a + uint64((hi-lo)*eb) - 1
		s.Bytes += (hi - lo) * eb
		n := int64(e>>5 - a>>5 + 1)
		s.Sectors += n
		s.L2Sectors += n
		s.Lines += int64(e>>7 - a>>7 + 1)
	}
	wf := int64((m.BoxBytes() + 127) / 128)
	s.Wavefronts += wf
	s.IdealWavefronts += wf
}

// wavefronts applies the bank rule of Profile's documentation to one
// request: the lanes in mask access n[l] bytes at addr[l].
func wavefronts(mask uint32, addr *[32]uint64, n *[32]uint8) (wf, ideal int64) {
	width := 0
	for l := 0; l < 32; l++ {
		if mask&(1<<uint(l)) != 0 {
			width = max(width, int(n[l]))
		}
	}
	per := 32 // lanes per phase
	if width > 8 {
		per = 16
	}
	var words [128]uint64
	for p := 0; p < 32; p += per {
		w := words[:0]
		for l := p; l < p+per; l++ {
			if mask&(1<<uint(l)) == 0 {
				continue
			}
			first := addr[l] >> 2
			last := (addr[l] + uint64(max(n[l], 1)) - 1) >> 2
			for a := first; a <= last; a++ {
				w = append(w, a)
			}
		}
		if len(w) == 0 {
			continue
		}
		slices.Sort(w)
		w = slices.Compact(w)
		var perBank [32]int64
		most := int64(0)
		for _, a := range w {
			perBank[a&31]++
			most = max(most, perBank[a&31])
		}
		wf += most
		ideal += int64(len(w)+31) / 32
	}
	return wf, ideal
}
