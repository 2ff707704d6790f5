package ptxsim

// access returns the n bytes an instruction touches at addr in space sp,
// after checking bounds, alignment and (for reads) initialisation. Writes
// mark the bytes initialised. atomic accesses are exempt from race checks.
func (b *blockRun) access(t *thread, sp space, addr uint64, n int, write, atomic bool) ([]byte, error) {
	if addr%uint64(n) != 0 {
		return nil, b.fail(t, "misaligned %d-byte %v access at address 0x%x", n, sp, addr)
	}
	if sp == spGeneric {
		if addr >= sharedWindow && addr < sharedWindow+1<<32 {
			sp, addr = spShared, addr-sharedWindow
		} else if addr >= paramWindow && addr < paramWindow+1<<32 {
			sp, addr = spParam, addr-paramWindow
		} else {
			sp = spGlobal
		}
	}
	switch sp {
	case spGlobal:
		m, buf, err := b.dev.bytes(addr, n)
		if err != nil {
			return nil, b.fail(t, "out-of-bounds: %v", err)
		}
		if buf.gen != nil {
			return m, nil
		}
		off := addr - buf.base
		init := buf.init[off : off+uint64(n)]
		if write {
			for i := range init {
				init[i] = true
			}
		} else {
			for i, ok := range init {
				if !ok {
					return nil, b.fail(t, "read of uninitialised global memory at 0x%x (offset %d in buffer 0x%x)", addr+uint64(i), off+uint64(i), buf.base)
				}
			}
		}
		return m, nil
	case spShared:
		if addr+uint64(n) > uint64(len(b.shared)) || addr+uint64(n) < addr {
			return nil, b.fail(t, "out-of-bounds shared access of %d bytes at offset %d (block has %d bytes of shared memory)", n, addr, len(b.shared))
		}
		init := b.sinit[addr : addr+uint64(n)]
		if write {
			for i := range init {
				init[i] = true
			}
			b.noteStore(t, addr, n)
		} else {
			for i, ok := range init {
				if !ok {
					return nil, b.fail(t, "read of uninitialised shared memory at offset %d", addr+uint64(i))
				}
			}
		}
		if b.race != nil && !atomic {
			if msg := b.race.touch(int(addr), n, t.idx, write); msg != "" {
				return nil, b.fail(t, "shared-memory race at offset %d: %s", addr, msg)
			}
		}
		return b.shared[addr : addr+uint64(n)], nil
	case spParam:
		if write || addr+uint64(n) > uint64(len(b.params)) {
			return nil, b.fail(t, "bad param access of %d bytes at offset %d", n, addr)
		}
		return b.params[addr : addr+uint64(n)], nil
	case spConst:
		if write || addr+uint64(n) > uint64(len(b.k.consts)) {
			return nil, b.fail(t, "out-of-bounds const access of %d bytes at offset %d", n, addr)
		}
		return b.k.consts[addr : addr+uint64(n)], nil
	}
	return nil, b.fail(t, "unsupported state space")
}

// profileAccess records a lane's access for the profile, with a generic
// address resolved to the space it hits.
func (b *blockRun) profileAccess(t *thread, in *inst, sp space, addr uint64, n int) {
	if sp == spGeneric {
		if addr >= sharedWindow && addr < sharedWindow+1<<32 {
			sp, addr = spShared, addr-sharedWindow
		} else {
			sp = spGlobal
		}
	}
	var c MemClass
	switch {
	case in.op == opAtom && sp == spShared:
		c = SharedAtomic
	case in.op == opAtom:
		c = GlobalAtomic
	case sp == spShared && in.op == opLd:
		c = SharedLoad
	case sp == spShared:
		c = SharedStore
	case sp == spConst:
		c = ConstLoad
	case sp == spParam:
		c = ParamLoad
	case in.op == opLd:
		c = GlobalLoad
	default:
		c = GlobalStore
	}
	b.col.record(t, in, c, addr, n, 0, 0)
}

func (b *blockRun) load(t *thread, in *inst) error {
	r := t.regs
	sz := in.t.size()
	addr := uint64(int64(r[in.a]) + in.off)
	m, err := b.access(t, in.space, addr, sz*int(in.n), false, false)
	if err != nil {
		return err
	}
	if b.col != nil {
		b.profileAccess(t, in, in.space, addr, sz*int(in.n))
	}
	if in.n == 1 {
		r[in.d] = in.t.ext(loadLE(m))
		return nil
	}
	for i, s := range in.vd {
		r[s] = in.t.ext(loadLE(m[i*sz : (i+1)*sz]))
	}
	return nil
}

func (b *blockRun) store(t *thread, in *inst) error {
	r := t.regs
	sz := in.t.size()
	addr := uint64(int64(r[in.d]) + in.off)
	m, err := b.access(t, in.space, addr, sz*int(in.n), true, false)
	if err != nil {
		return err
	}
	if b.col != nil {
		b.profileAccess(t, in, in.space, addr, sz*int(in.n))
	}
	if in.n == 1 {
		storeLE(m, r[in.a])
		return nil
	}
	for i, s := range in.va {
		storeLE(m[i*sz:(i+1)*sz], r[s])
	}
	return nil
}

func (b *blockRun) atom(t *thread, in *inst) error {
	r := t.regs
	ty := in.t
	addr := uint64(int64(r[in.a]) + in.off)
	m, err := b.access(t, in.space, addr, ty.size(), false, true)
	if err != nil {
		return err
	}
	if b.col != nil {
		b.profileAccess(t, in, in.space, addr, ty.size())
	}
	old := ty.ext(loadLE(m))
	x := ty.ext(r[in.b])
	var v uint64
	switch in.sub {
	case atomAdd:
		switch ty {
		case tyF32:
			v = b32(f32(old) + f32(x))
		case tyF64:
			v = b64(f64(old) + f64(x))
		default:
			v = old + x
		}
	case atomMin, atomMax:
		less := old < x
		if ty.isSigned() {
			less = int64(old) < int64(x)
		}
		if less == (in.sub == atomMin) {
			v = old
		} else {
			v = x
		}
	case atomExch:
		v = x
	case atomCas:
		v = old
		if old == x {
			v = ty.ext(r[in.c])
		}
	case atomAnd:
		v = old & x
	case atomOr:
		v = old | x
	case atomXor:
		v = old ^ x
	case atomInc:
		v = old + 1
		if old >= x {
			v = 0
		}
	case atomDec:
		v = old - 1
		if old == 0 || old > x {
			v = x
		}
	}
	if _, err := b.access(t, in.space, addr, ty.size(), true, true); err != nil {
		return err
	}
	storeLE(m, v)
	if in.flags&fNoResult == 0 {
		r[in.d] = old
	}
	return nil
}
