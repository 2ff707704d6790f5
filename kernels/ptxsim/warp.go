package ptxsim

import "fmt"

// resolveWarp fires every warp collective of warp w whose member lanes all
// wait at it. It reports whether anything fired.
func (b *blockRun) resolveWarp(w int) (bool, error) {
	lo := w * 32
	hi := min(lo+32, len(b.threads))
	present := uint32(1<<uint(hi-lo) - 1)
	if hi-lo == 32 {
		present = 0xffffffff
	}
	fired := false
	for i := lo; i < hi; i++ {
		t := &b.threads[i]
		if t.state != stWarp {
			continue
		}
		in := &b.k.code[t.pc]
		if in.op.isGroupOp() {
			continue // resolveGroups fires these
		}
		mask := t.mask
		if in.op == opMma || in.op == opLdmatrix {
			if present != 0xffffffff {
				return false, b.fail(t, "warp-wide instruction in a warp of only %d threads", hi-lo)
			}
		}
		if mask&^present != 0 {
			return false, b.fail(t, "member mask 0x%08x names lanes beyond the warp's %d threads", mask, hi-lo)
		}
		ready := true
		var lanes [32]*thread
		for l := 0; l < 32; l++ {
			if mask&(1<<uint(l)) == 0 {
				continue
			}
			u := &b.threads[lo+l]
			lanes[l] = u
			switch {
			case u.state == stDone:
				return false, b.fail(t, "member lane %d of mask 0x%08x has exited", l, mask)
			case u.state != stWarp || u.pc != t.pc:
				ready = false
			case u.mask != mask:
				return false, b.fail(t, "lanes %d and %d disagree on the member mask (0x%08x, 0x%08x)", t.lane, l, mask, u.mask)
			}
		}
		if !ready {
			continue
		}
		var err error
		switch in.op {
		case opShfl:
			err = b.shfl(in, &lanes, mask)
		case opVote:
			b.vote(in, &lanes, mask)
		case opMma:
			b.mma(in, &lanes)
		case opLdmatrix:
			err = b.ldmatrix(in, &lanes)
		}
		if err != nil {
			return false, err
		}
		if b.col != nil {
			switch in.op {
			case opShfl:
				b.col.shuffle(t.pc)
			case opLdmatrix:
				b.col.ldmatrix(in, t.pc, &lanes)
			}
		}
		for _, u := range lanes {
			if u != nil {
				u.state = stRun
				u.pc++
			}
		}
		fired = true
	}
	return fired, nil
}

// resolveBarrier opens the barrier when every live thread waits at it, and
// otherwise explains why the block cannot make progress. done reports that
// every thread has exited.
func (b *blockRun) resolveBarrier() (done bool, err error) {
	var first, stuck *thread
	live, waiting := 0, 0
	for i := range b.threads {
		t := &b.threads[i]
		if t.state == stDone {
			continue
		}
		live++
		if t.state == stBar {
			waiting++
			if first == nil {
				first = t
			}
		} else if stuck == nil {
			stuck = t
		}
	}
	if live == 0 {
		return true, nil
	}
	if waiting < live {
		in := &b.k.code[stuck.pc]
		why := "its member lanes wait elsewhere"
		if first != nil {
			why += fmt.Sprintf(" or at the barrier of line %d", b.k.code[first.pc].line)
		}
		if in.op == opMma || in.op == opLdmatrix {
			why = "not every lane of the warp reached it"
		}
		if in.op.isGroupOp() {
			why = "not every thread of the warpgroup reached it"
		}
		if stuck.state == stMbar {
			return false, b.fail(stuck, "deadlock: waits on an mbarrier phase that can never complete")
		}
		return false, b.fail(stuck, "deadlock: warp collective can never complete: %s", why)
	}
	full := uint64(len(b.threads)+31) / 32 * 32
	for i := range b.threads {
		t := &b.threads[i]
		if t.state != stBar {
			continue
		}
		if t.pc != first.pc {
			return false, b.fail(t, "barrier divergence: thread (%d,%d,%d) waits at the barrier of line %d",
				first.tid[0], first.tid[1], first.tid[2], b.k.code[first.pc].line)
		}
		if t.barID != first.barID {
			return false, b.fail(t, "threads wait at different barrier ids (%d and %d)", t.barID, first.barID)
		}
		if t.barN != 0 && t.barN != full && t.barN != uint64(len(b.threads)) {
			return false, b.fail(t, "barriers with a thread count (%d) below the block size are not supported", t.barN)
		}
	}
	for i := range b.threads {
		if t := &b.threads[i]; t.state == stBar {
			t.state = stRun
			t.pc++
		}
	}
	if b.race != nil {
		b.race.barrier()
	}
	return false, nil
}

// shfl implements shfl.sync as the PTX ISA specifies it: c packs the clamp
// value (bits 0-4) and the segment mask (bits 8-12).
func (b *blockRun) shfl(in *inst, lanes *[32]*thread, mask uint32) error {
	var src, dst [32]uint64
	var ok [32]bool
	for l, u := range lanes {
		if u != nil {
			src[l] = u.regs[in.a] & 0xffffffff
		}
	}
	for l, u := range lanes {
		if u == nil {
			continue
		}
		bval := int(u.regs[in.b] & 0x1f)
		c := u.regs[in.c]
		cval := int(c & 0x1f)
		seg := int((c >> 8) & 0x1f)
		maxLane := (l & seg) | (cval &^ seg)
		minLane := l & seg
		var j int
		var p bool
		switch in.sub {
		case shflUp:
			j = l - bval
			p = j >= maxLane
		case shflDown:
			j = l + bval
			p = j <= maxLane
		case shflBfly:
			j = l ^ bval
			p = j <= maxLane
		default:
			j = minLane | (bval &^ seg)
			p = j <= maxLane
		}
		if !p {
			j = l
		}
		if j < 0 || j > 31 || mask&(1<<uint(j)) == 0 {
			return b.fail(u, "shfl reads lane %d, which is not in the member mask 0x%08x", j, mask)
		}
		dst[l], ok[l] = src[j], p
	}
	for l, u := range lanes {
		if u == nil {
			continue
		}
		u.regs[in.d] = dst[l]
		if in.flags&fPairDst != 0 {
			u.regs[in.d2] = boolBit(ok[l])
		}
	}
	return nil
}

func (b *blockRun) vote(in *inst, lanes *[32]*thread, mask uint32) {
	var ballot uint32
	for l, u := range lanes {
		if u != nil && (u.regs[in.a] != 0) != in.aneg {
			ballot |= 1 << uint(l)
		}
	}
	var v uint64
	switch in.sub {
	case voteAll:
		v = boolBit(ballot == mask)
	case voteAny:
		v = boolBit(ballot != 0)
	case voteUni:
		v = boolBit(ballot == 0 || ballot == mask)
	case voteBallot:
		v = uint64(ballot)
	}
	for _, u := range lanes {
		if u != nil {
			u.regs[in.d] = v
		}
	}
}
