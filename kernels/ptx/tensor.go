package ptx

import "fmt"

// MmaShape selects a warp-level mma.sync form.
type MmaShape int

// The mma.sync forms the kernels use; all accumulate in f32.
const (
	MmaF16  MmaShape = iota // m16n8k16, A/B f16
	MmaBF16                 // m16n8k16, A/B bf16
	MmaTF32                 // m16n8k8, A/B tf32
)

// Mma emits d = a·b + c for one warp: d and c are 4 f32 registers, a is 4 and
// b is 2 b32 registers holding the fragments (packed halves or tf32).
func (k *Kernel) Mma(shape MmaShape, d, a, b, c Vec) {
	var op string
	switch shape {
	case MmaF16:
		op = "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
	case MmaBF16:
		op = "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"
	case MmaTF32:
		op = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"
	default:
		k.fail("mma: unknown shape %d", shape)
		return
	}
	if len(d) != 4 || len(a) != 4 || len(b) != 2 || len(c) != 4 {
		k.fail("mma: fragment sizes d%d a%d b%d c%d, want 4,4,2,4", len(d), len(a), len(b), len(c))
		return
	}
	for _, r := range d {
		k.check(op, ClassF32, r)
	}
	for _, r := range c {
		k.check(op, ClassF32, r)
	}
	for _, r := range append(append(Vec{}, a...), b...) {
		k.check(op, ClassB32, r)
	}
	k.emit(&Instr{op: op, args: []arg{def(d), use(a), use(b), use(c)}, sync: true})
}

// Ldmatrix loads n (1, 2 or 4) 8x8 b16 matrices from shared memory for a warp.
func (k *Kernel) Ldmatrix(n int, trans bool, addr Addr) Vec {
	if n != 1 && n != 2 && n != 4 {
		k.fail("ldmatrix: count %d", n)
		return nil
	}
	k.checkAddr("ldmatrix", "shared", addr)
	v := make(Vec, n)
	for i := range v {
		v[i] = k.NewReg(B32)
	}
	op := fmt.Sprintf("ldmatrix.sync.aligned.m8n8.x%d", n)
	if trans {
		op += ".trans"
	}
	k.emit(&Instr{op: op + ".shared.b16", args: []arg{def(v), use(addr)}, sync: true})
	return v
}

// CpAsync copies bytes (4, 8 or 16) from global to shared memory without
// staging through registers; bytes 16 bypasses L1 (.cg).
func (k *Kernel) CpAsync(dst, src Addr, bytes int) {
	if bytes != 4 && bytes != 8 && bytes != 16 {
		k.fail("cp.async: size %d", bytes)
		return
	}
	k.checkAddr("cp.async", "shared", dst)
	k.checkAddr("cp.async", "global", src)
	cache := "ca"
	if bytes == 16 {
		cache = "cg"
	}
	k.emit(&Instr{op: fmt.Sprintf("cp.async.%s.shared.global", cache), args: []arg{use(dst), use(src), use(Imm(bytes))}, effect: true})
}

// CpAsyncCommit closes the current group of cp.async operations.
func (k *Kernel) CpAsyncCommit() {
	k.emit(&Instr{op: "cp.async.commit_group", effect: true})
}

// CpAsyncWait waits until at most n committed groups are still pending.
func (k *Kernel) CpAsyncWait(n int) {
	k.emit(&Instr{op: "cp.async.wait_group", args: []arg{use(Imm(n))}, effect: true})
}
