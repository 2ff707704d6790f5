package ptxsim

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// thread states
const (
	stRun  uint8 = iota
	stWarp       // waiting at a warp collective
	stBar        // waiting at bar.sync
	stMbar       // sleeping in mbarrier.try_wait until its phase completes
	stDone
)

type thread struct {
	regs   []uint64
	pc     int32
	state  uint8
	idx    int32 // linear index in the block
	lane   int32
	warp   int32
	tid    [3]int
	mask   uint32 // member mask at a warp collective
	barID  uint64
	barN   uint64 // expected thread count, 0 for all
	steps  int64
	async  asyncState
	fences uint32  // fence.proxy.async executed
	execs  []int32 // per instruction: times reached, when profiling
}

type blockRun struct {
	dev      *Device
	k        *Kernel
	ctaid    [3]int
	threads  []thread
	nwarps   int
	shared   []byte
	sinit    []bool
	race     *raceShadow
	params   []byte
	maxSteps int64
	col      *collector // nil unless the device is profiling
	hop      hopperState
}

// Launch runs kernel k over grid×block threads. params are the kernel's
// parameters in order, each stored with the width its declaration gives;
// for a .b8 array parameter (a tensor map, passed by value) the value is
// the device address of its bytes, which the launch copies in.
// The first failure stops the launch and is returned as an *Error.
func (d *Device) Launch(k *Kernel, grid, block [3]int, sharedDynamicBytes int, params ...uint64) error {
	return d.launch(k, grid, block, sharedDynamicBytes, nil, params)
}

// LaunchBlocks runs only the listed blocks of a grid×block launch, in the
// order given, as if they were part of the whole grid (%nctaid is grid).
// With AllocGenerated buffers it samples a large problem cheaply; with
// Device.Profile set it measures what those blocks cost.
func (d *Device) LaunchBlocks(k *Kernel, grid, block [3]int, sharedDynamicBytes int, blocks [][3]int, params ...uint64) error {
	if blocks == nil {
		blocks = [][3]int{}
	}
	return d.launch(k, grid, block, sharedDynamicBytes, blocks, params)
}

func (d *Device) launch(k *Kernel, grid, block [3]int, sharedDynamicBytes int, blocks [][3]int, params []uint64) error {
	if k == nil {
		return fmt.Errorf("ptxsim: nil kernel")
	}
	fail := func(format string, args ...any) error {
		return &Error{Kernel: k.name, Msg: fmt.Sprintf(format, args...)}
	}
	nthreads := 1
	for i := 0; i < 3; i++ {
		if grid[i] < 1 || block[i] < 1 {
			return fail("grid %v and block %v must be positive", grid, block)
		}
		if grid[i] > 1<<31-1 || block[i] > 1024 {
			return fail("grid %v or block %v too large", grid, block)
		}
		nthreads *= block[i]
	}
	if nthreads > 1024 || block[2] > 64 {
		return fail("block %v has more than 1024 threads or z above 64", block)
	}
	if sharedDynamicBytes < 0 || k.sharedSize+sharedDynamicBytes > 227*1024 {
		return fail("shared memory %d+%d bytes exceeds 227 KiB", k.sharedSize, sharedDynamicBytes)
	}
	if len(params) != len(k.params) {
		return fail("kernel takes %d parameters (%s), launch passes %d", len(k.params), strings.Join(k.Params(), ", "), len(params))
	}
	pbuf := make([]byte, k.paramSize)
	for i, p := range params {
		if k.params[i].array {
			// An array parameter (a tensor map) is passed by value: the
			// launch argument is the device address of its bytes.
			src, _, err := d.bytes(p, k.params[i].size)
			if err != nil {
				return fail("parameter %s: the %d bytes passed by value: %v", k.params[i].name, k.params[i].size, err)
			}
			copy(pbuf[k.paramOff[i]:], src)
			continue
		}
		var tmp [8]byte
		binary.LittleEndian.PutUint64(tmp[:], p)
		copy(pbuf[k.paramOff[i]:], tmp[:k.params[i].size])
	}
	maxSteps := d.MaxSteps
	if maxSteps <= 0 {
		maxSteps = 1 << 28
	}
	b := &blockRun{dev: d, k: k, params: pbuf, maxSteps: maxSteps}
	b.nwarps = (nthreads + 31) / 32
	b.threads = make([]thread, nthreads)
	slab := make([]uint64, nthreads*k.slots)
	for i := range b.threads {
		b.threads[i].regs = slab[i*k.slots : (i+1)*k.slots : (i+1)*k.slots]
	}
	b.shared = make([]byte, k.sharedSize+sharedDynamicBytes)
	b.sinit = make([]bool, len(b.shared))
	if !d.NoRaceCheck {
		b.race = newRaceShadow(len(b.shared))
	}
	if d.Profile != nil {
		b.col = newCollector(d.Profile, k, nthreads, b.nwarps)
		for i := range b.threads {
			b.threads[i].execs = b.col.threadExecs(i)
		}
	}
	if blocks != nil {
		for _, c := range blocks {
			for i := 0; i < 3; i++ {
				if c[i] < 0 || c[i] >= grid[i] {
					return fail("block %v is outside the grid %v", c, grid)
				}
			}
		}
		for _, c := range blocks {
			b.ctaid = c
			if err := b.run(grid, block); err != nil {
				return err
			}
		}
	} else {
		for z := 0; z < grid[2]; z++ {
			for y := 0; y < grid[1]; y++ {
				for x := 0; x < grid[0]; x++ {
					b.ctaid = [3]int{x, y, z}
					if err := b.run(grid, block); err != nil {
						return err
					}
				}
			}
		}
	}
	if b.col != nil {
		b.col.endLaunch()
	}
	return nil
}

// reset prepares the block's threads and shared memory for a new block.
func (b *blockRun) reset(grid, block [3]int) {
	for i := range b.sinit {
		b.sinit[i] = false
		b.shared[i] = 0
	}
	if b.race != nil {
		b.race.reset()
	}
	for i := range b.threads {
		t := &b.threads[i]
		copy(t.regs, b.k.template)
		x := i % block[0]
		y := (i / block[0]) % block[1]
		z := i / (block[0] * block[1])
		r := t.regs
		r[slotTidX], r[slotTidY], r[slotTidZ] = uint64(x), uint64(y), uint64(z)
		r[slotNtidX], r[slotNtidY], r[slotNtidZ] = uint64(block[0]), uint64(block[1]), uint64(block[2])
		r[slotCtaidX], r[slotCtaidY], r[slotCtaidZ] = uint64(b.ctaid[0]), uint64(b.ctaid[1]), uint64(b.ctaid[2])
		r[slotNctaidX], r[slotNctaidY], r[slotNctaidZ] = uint64(grid[0]), uint64(grid[1]), uint64(grid[2])
		r[slotLaneid], r[slotWarpid], r[slotNwarpid] = uint64(i%32), uint64(i/32), uint64(b.nwarps)
		*t = thread{regs: t.regs, idx: int32(i), lane: int32(i % 32), warp: int32(i / 32), tid: [3]int{x, y, z}, execs: t.execs}
	}
	b.resetHopper()
	if b.col != nil {
		b.col.beginBlock()
	}
}

// run executes one block to completion: threads run until they block, then
// ready warp collectives fire, then a barrier that everyone reached opens.
func (b *blockRun) run(grid, block [3]int) error {
	b.reset(grid, block)
	for {
		ran := false
		for i := range b.threads {
			if t := &b.threads[i]; t.state == stRun {
				ran = true
				if err := b.exec(t); err != nil {
					return err
				}
			}
		}
		if ran {
			continue
		}
		if b.col != nil {
			b.col.flush()
		}
		fired := false
		for w := 0; w < b.nwarps; w++ {
			f, err := b.resolveWarp(w)
			if err != nil {
				return err
			}
			fired = fired || f
		}
		if fired {
			continue
		}
		if fired, err := b.resolveGroups(); err != nil || fired {
			if err != nil {
				return err
			}
			continue
		}
		if woke, err := b.wakeSleepers(); err != nil || woke {
			if err != nil {
				return err
			}
			continue
		}
		done, err := b.resolveBarrier()
		if err != nil {
			return err
		}
		if done {
			if b.col != nil {
				b.col.endBlock(b)
			}
			return nil
		}
	}
}

// fail builds an execution error at thread t's current instruction.
func (b *blockRun) fail(t *thread, format string, args ...any) *Error {
	in := &b.k.code[t.pc]
	return &Error{Kernel: b.k.name, Block: b.ctaid, Thread: t.tid, Line: int(in.line), Text: in.text,
		Msg: fmt.Sprintf(format, args...), Exec: true}
}

// exec runs thread t until it exits or waits at a synchronising instruction.
func (b *blockRun) exec(t *thread) error {
	code := b.k.code
	regs := t.regs
	budget := b.maxSteps - t.steps
	var n int64
	defer func() {
		t.steps += n
		b.dev.Executed += n
	}()
	for {
		in := &code[t.pc]
		n++
		if n > budget {
			return b.fail(t, "thread exceeded %d instructions (endless loop?)", b.maxSteps)
		}
		if t.execs != nil {
			t.execs[t.pc]++
		}
		if in.guard >= 0 && (regs[in.guard] != 0) == in.gneg {
			t.pc++
			continue
		}
		switch in.op {
		case opBra:
			t.pc = in.target
			continue
		case opExit:
			t.async.commit()
			if err := b.asyncWait(t, 0); err != nil {
				return err
			}
			t.state = stDone
			return nil
		case opBar:
			t.state = stBar
			t.barID = regs[in.a] & 0xffffffff
			t.barN = 0
			if in.b >= 0 {
				t.barN = regs[in.b] & 0xffffffff
			}
			if t.barID > 15 {
				return b.fail(t, "barrier id %d is above 15", t.barID)
			}
			return nil
		case opShfl, opVote, opBarWarp:
			t.state = stWarp
			if in.op == opBarWarp {
				t.mask = uint32(regs[in.a])
			} else {
				t.mask = uint32(regs[in.e])
			}
			if t.mask&(1<<uint(t.lane)) == 0 {
				return b.fail(t, "lane %d is not in its own member mask 0x%08x", t.lane, t.mask)
			}
			return nil
		case opMma, opLdmatrix, opWgFence, opWgCommit, opWgWait, opWgmma:
			t.state = stWarp
			t.mask = 0xffffffff
			return nil
		case opMbarInit:
			if err := b.mbarInit(t, in); err != nil {
				return err
			}
		case opMbarArrive:
			if err := b.mbarArrive(t, in); err != nil {
				return err
			}
		case opMbarTryWait:
			ready, err := b.mbarTryWait(t, in)
			if err != nil {
				return err
			}
			if !ready {
				t.state = stMbar
				return nil
			}
		case opTensorLoad:
			if err := b.tensorIssue(t, in); err != nil {
				return err
			}
		case opProxyFence:
			t.fences++
		case opNop:
		case opLd:
			if err := b.load(t, in); err != nil {
				return err
			}
		case opSt:
			if err := b.store(t, in); err != nil {
				return err
			}
		case opAtom:
			if err := b.atom(t, in); err != nil {
				return err
			}
		case opCpAsync:
			if err := b.asyncIssue(t, in); err != nil {
				return err
			}
		case opCpCommit:
			t.async.commit()
		case opCpWait:
			if in.n == 1 {
				t.async.commit()
			}
			if err := b.asyncWait(t, int(in.off)); err != nil {
				return err
			}
		default:
			if err := b.alu(t, in); err != nil {
				return err
			}
		}
		t.pc++
	}
}
