package ptx

import (
	"fmt"
	"strings"
)

// The Hopper (sm_90a) instructions: transaction-count barriers in shared
// memory (mbarrier), tensor-memory copies (cp.async.bulk.tensor) that
// complete on such a barrier, the proxy fences between them and ordinary
// accesses, and warpgroup MMA (wgmma) reading both operands from shared
// memory through 64-bit matrix descriptors. Each marks the kernel Accel.

// checkBar checks an mbarrier address: an 8-byte object in shared memory
// (a 32-bit shared-window register or a shared symbol).
func (k *Kernel) checkBar(op string, bar Addr) {
	k.Accel()
	k.checkAddr(op, "shared", bar)
}

// MbarrierInit initialises the barrier at bar to expect count arrivals per
// phase (mbarrier.init.shared::cta.b64).
func (k *Kernel) MbarrierInit(bar Addr, count Operand) {
	k.checkBar("mbarrier.init", bar)
	k.check("mbarrier.init", ClassB32, count)
	k.emit(&Instr{op: "mbarrier.init.shared::cta.b64", args: []arg{use(bar), use(count)}, effect: true})
}

// MbarrierArrive counts one arrival of the executing thread on bar.
func (k *Kernel) MbarrierArrive(bar Addr) {
	k.checkBar("mbarrier.arrive", bar)
	st := k.NewReg(B64)
	k.emit(&Instr{op: "mbarrier.arrive.shared::cta.b64", args: []arg{def(st), use(bar)}, effect: true})
}

// MbarrierArriveExpectTx raises bar's expected transaction count by bytes
// and then counts one arrival, as the thread that issues the phase's tensor
// copies does.
func (k *Kernel) MbarrierArriveExpectTx(bar Addr, bytes Operand) {
	k.checkBar("mbarrier.arrive.expect_tx", bar)
	k.check("mbarrier.arrive.expect_tx", ClassB32, bytes)
	st := k.NewReg(B64)
	k.emit(&Instr{op: "mbarrier.arrive.expect_tx.shared::cta.b64", args: []arg{def(st), use(bar), use(bytes)}, effect: true})
}

// MbarrierTryWait reports whether the phase of parity (0 or 1, a u32) of
// bar has completed; the thread may be suspended a while before it answers.
func (k *Kernel) MbarrierTryWait(bar Addr, parity Operand) Reg {
	k.checkBar("mbarrier.try_wait.parity", bar)
	k.check("mbarrier.try_wait.parity", ClassB32, parity)
	p := k.NewReg(Pred)
	k.mbarrierTryWaitTo(p, bar, parity)
	return p
}

func (k *Kernel) mbarrierTryWaitTo(p Reg, bar Addr, parity Operand) {
	k.emit(&Instr{op: "mbarrier.try_wait.parity.shared::cta.b64", args: []arg{def(p), use(bar), use(parity)}, effect: true})
}

// MbarrierWait spins on MbarrierTryWait until the phase of parity of bar
// has completed.
func (k *Kernel) MbarrierWait(bar Addr, parity Operand) {
	done := k.MbarrierTryWait(bar, parity)
	s := &LoopStmt{Skip: done}
	k.block(&s.Body, func() { k.mbarrierTryWaitTo(done, bar, parity) })
	k.block(&s.Post, func() { s.Again = k.Op("not", Pred, done) })
	*k.cur = append(*k.cur, s)
}

// FenceMbarrierInit makes barrier initialisations visible to the async
// proxy (the tensor copies that complete on them).
func (k *Kernel) FenceMbarrierInit() {
	k.Accel()
	k.emit(&Instr{op: "fence.mbarrier_init.release.cluster", effect: true})
}

// FenceProxyAsync orders the executing thread's ordinary shared-memory
// accesses before later async-proxy ones (wgmma operand reads, tensor
// copies), e.g. after decoding a tile that wgmma reads.
func (k *Kernel) FenceProxyAsync() {
	k.Accel()
	k.emit(&Instr{op: "fence.proxy.async.shared::cta", effect: true})
}

// TensorMapAddr is the address of a tensor-map parameter (TensorMapParam),
// the operand of TensorLoad2D.
func (k *Kernel) TensorMapAddr(p Sym) Reg {
	if !k.mapParams[string(p)] {
		k.fail("tensor map %s is not a tensor-map parameter", p)
	}
	d := k.NewReg(U64)
	k.emit(&Instr{op: "mov.u64", args: []arg{def(d), use(p)}})
	return d
}

// tensorRef is the [map, {c0, c1}] source operand of a tensor copy.
type tensorRef struct {
	tmap   Reg
	coords []Operand
}

func (t tensorRef) String() string {
	var c []string
	for _, o := range t.coords {
		c = append(c, o.String())
	}
	return fmt.Sprintf("[%v, {%s}]", t.tmap, strings.Join(c, ", "))
}

func (t tensorRef) regs() []Reg {
	out := []Reg{t.tmap}
	for _, o := range t.coords {
		out = append(out, o.regs()...)
	}
	return out
}

// TensorLoad2D copies the box of the tensor map at tmap whose first element
// is at coordinates (c0 innermost, c1), as s32, into shared memory at dst,
// and completes its bytes on the barrier bar (cp.async.bulk.tensor.2d, tile
// mode). One thread issues it; elements outside the tensor arrive as zeros.
func (k *Kernel) TensorLoad2D(dst Addr, tmap Reg, c0, c1 Operand, bar Addr) {
	k.Accel()
	op := "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
	k.checkAddr(op, "shared", dst)
	k.checkAddr(op, "shared", bar)
	k.check(op, ClassB64, tmap)
	k.check(op, ClassB32, c0, c1)
	src := tensorRef{tmap: tmap, coords: []Operand{c0, c1}}
	k.emit(&Instr{op: op, args: []arg{use(dst), use(src), use(bar)}, effect: true})
}

// WgmmaFence orders the warpgroup's register and shared-memory accesses
// before the next wgmma.mma_async (wgmma.fence).
func (k *Kernel) WgmmaFence() {
	k.Accel()
	k.emit(&Instr{op: "wgmma.fence.sync.aligned", effect: true, sync: true})
}

// WgmmaCommit closes the group of wgmma.mma_async issued since the last one.
func (k *Kernel) WgmmaCommit() {
	k.Accel()
	k.emit(&Instr{op: "wgmma.commit_group.sync.aligned", effect: true, sync: true})
}

// WgmmaWait waits until at most n committed wgmma groups are pending; only
// then are their accumulators written and may be read.
func (k *Kernel) WgmmaWait(n int) {
	k.Accel()
	if n < 0 || n > 7 {
		k.fail("wgmma.wait_group: %d pending groups is out of range 0..7", n)
	}
	k.emit(&Instr{op: "wgmma.wait_group.sync.aligned", args: []arg{use(Imm(n))}, effect: true, sync: true})
}

// Wgmma issues d = A·B + d (or A·B where scaleD is false) for the warpgroup
// (four consecutive warps): m64nNk16, bf16 inputs, f32 accumulators, A
// (64×16) and B (16×N, given as N×16) both in shared memory, K-major,
// described by the 64-bit matrix descriptors descA and descB. d holds the
// thread's N/2 accumulators; scaleD is a predicate register or Imm 0/1.
func (k *Kernel) Wgmma(n int, d Vec, descA, descB Reg, scaleD Operand) {
	k.Accel()
	op := fmt.Sprintf("wgmma.mma_async.sync.aligned.m64n%dk16.f32.bf16.bf16", n)
	if n < 8 || n > 256 || n%8 != 0 {
		k.fail("%s: N must be a multiple of 8 in 8..256", op)
		return
	}
	if len(d) != n/2 {
		k.fail("%s: %d accumulators, want %d", op, len(d), n/2)
		return
	}
	for _, r := range d {
		k.check(op, ClassF32, r)
	}
	k.check(op, ClassB64, descA, descB)
	switch s := scaleD.(type) {
	case Reg:
		k.check(op, ClassPred, s)
	case Imm:
		if s != 0 && s != 1 {
			k.fail("%s: scale-d %d is not 0 or 1", op, s)
		}
	default:
		k.fail("%s: scale-d %v is not a predicate or an immediate", op, scaleD)
	}
	k.emit(&Instr{op: op, args: []arg{def(d), use(descA), use(descB), use(scaleD), use(Imm(1)), use(Imm(1)), use(Imm(0)), use(Imm(0))},
		effect: true, sync: true, reads: append([]Reg(nil), d...)})
}

// DescSwizzle is the swizzle mode of a wgmma matrix descriptor (bits 62–63).
type DescSwizzle uint64

// The descriptor swizzle modes, as the PTX ISA numbers them for sm_90a.
const (
	DescNoSwizzle  DescSwizzle = 0
	DescSwizzle128 DescSwizzle = 1
	DescSwizzle64  DescSwizzle = 2
	DescSwizzle32  DescSwizzle = 3
)

// MatrixDesc is the constant part of a wgmma shared-memory matrix
// descriptor: the leading- and stride-dimension byte offsets (bits 16–29 and
// 32–45, in 16-byte units) and the swizzle mode; the kernel adds the start
// address (bits 0–13: the shared address >> 4). The base offset (bits
// 49–51) is 0: tiles start on a swizzle-pattern boundary.
func MatrixDesc(lbo, sbo int, sw DescSwizzle) uint64 {
	return uint64(lbo>>4)&0x3FFF<<16 | uint64(sbo>>4)&0x3FFF<<32 | uint64(sw)<<62
}
