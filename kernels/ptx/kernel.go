package ptx

import (
	"errors"
	"fmt"
	"regexp"
)

// Kernel records one .entry function. Build it with the instruction methods,
// then add it to a Module and print the module.
type Kernel struct {
	name       string
	params     []string
	mapParams  map[string]bool // parameters that are 128-byte tensor maps
	shared     []sharedDecl
	extern     []sharedDecl // dynamic shared arrays (bytes unused)
	accel      bool         // uses sm_90a-only instructions
	minSM      int
	minISA     int // newest PTX ISA feature used, major·10+minor
	maxThreads int
	maxRegs    int
	counters   [numClasses]int
	body       []Stmt
	cur        *[]Stmt
	err        error
}

type sharedDecl struct {
	name  string
	align int
	bytes int
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// NewKernel starts a kernel. The name must be a plain PTX identifier.
func NewKernel(name string) *Kernel {
	k := &Kernel{name: name, minSM: 80}
	k.cur = &k.body
	if !identRE.MatchString(name) {
		k.fail("kernel name %q is not an identifier", name)
	}
	return k
}

// Name is the kernel's entry name.
func (k *Kernel) Name() string { return k.name }

// Err is the first error recorded while building, if any.
func (k *Kernel) Err() error { return k.err }

func (k *Kernel) fail(format string, a ...any) {
	if k.err == nil {
		k.err = fmt.Errorf("ptx: kernel %s: %s", k.name, fmt.Sprintf(format, a...))
	}
}

// RequireSM states the lowest architecture (e.g. 80 for sm_80) the kernel
// runs on; printing for a lower target is an error. The default is 80.
func (k *Kernel) RequireSM(sm int) {
	if sm < 80 {
		k.fail("minimum architecture sm_%d is below the supported sm_80", sm)
		return
	}
	k.minSM = sm
}

// requireISA notes that an instruction needs PTX ISA v (major·10+minor).
func (k *Kernel) requireISA(v int) { k.minISA = max(k.minISA, v) }

// MinSM is the lowest architecture the kernel accepts.
func (k *Kernel) MinSM() int { return k.minSM }

// MaxThreads declares the block size the kernel is launched with (.maxntid),
// which lets ptxas budget registers for it.
func (k *Kernel) MaxThreads(n int) {
	if n < 1 || n > 1024 {
		k.fail("max threads %d out of range 1..1024", n)
		return
	}
	k.maxThreads = n
}

// MaxRegs caps the registers per thread ptxas may allocate (.maxnreg).
// Without a cap ptxas picks its own target from the block size, and may
// spill a few bytes to reach it where the registers were there to use.
func (k *Kernel) MaxRegs(n int) {
	if n < 1 || n > 255 {
		k.fail("max registers %d out of range 1..255", n)
		return
	}
	k.maxRegs = n
}

// Param declares the next kernel parameter. Every parameter is .u64, because
// the launcher passes each argument as 8 bytes; pointers and scalars alike.
func (k *Kernel) Param(name string) Sym {
	if !identRE.MatchString(name) {
		k.fail("parameter name %q is not an identifier", name)
	}
	for _, p := range k.params {
		if p == name {
			k.fail("parameter %q declared twice", name)
		}
	}
	k.params = append(k.params, name)
	return Sym(name)
}

// TensorMapParam declares the next kernel parameter as a tensor map: 128
// bytes passed by value, aligned to 64 (.param .align 64 .b8 name[128]),
// the operand of cp.async.bulk.tensor through TensorMapAddr.
func (k *Kernel) TensorMapParam(name string) Sym {
	s := k.Param(name)
	if k.mapParams == nil {
		k.mapParams = map[string]bool{}
	}
	k.mapParams[name] = true
	return s
}

// IsTensorMapParam reports whether the parameter name is a tensor map.
func (k *Kernel) IsTensorMapParam(name string) bool { return k.mapParams[name] }

// Params lists the parameter names in order.
func (k *Kernel) Params() []string { return append([]string(nil), k.params...) }

// Shared declares a shared-memory array of the given size and alignment and
// returns its symbol.
func (k *Kernel) Shared(name string, align, bytes int) Sym {
	if !identRE.MatchString(name) {
		k.fail("shared array name %q is not an identifier", name)
	}
	if align < 1 || align&(align-1) != 0 || align > 256 {
		k.fail("shared array %s: alignment %d is not a power of two ≤ 256", name, align)
	}
	if bytes < 1 {
		k.fail("shared array %s: size %d", name, bytes)
	}
	k.shared = append(k.shared, sharedDecl{name, align, bytes})
	return Sym(name)
}

// ExternShared declares the kernel's dynamic shared memory: an extern array
// at module scope whose size the launch gives. Its alignment (a power of
// two ≤ 1024; 1024 for the 128-byte swizzle of tensor copies) holds for the
// window's start.
func (k *Kernel) ExternShared(name string, align int) Sym {
	if !identRE.MatchString(name) {
		k.fail("shared array name %q is not an identifier", name)
	}
	if align < 1 || align&(align-1) != 0 || align > 1024 {
		k.fail("extern shared array %s: alignment %d is not a power of two ≤ 1024", name, align)
	}
	if len(k.extern) > 0 {
		k.fail("extern shared array %s: the kernel already has %s", name, k.extern[0].name)
	}
	k.extern = append(k.extern, sharedDecl{name: name, align: align})
	return Sym(name)
}

// Accel marks the kernel as using architecture-specific instructions of
// sm_90a (wgmma, tensor-memory copies, transaction-count barriers): it
// prints only for SM90a, with PTX ISA 8.0 or newer. The Hopper instruction
// methods call it.
func (k *Kernel) Accel() {
	k.accel = true
	k.minSM = max(k.minSM, 90)
	k.requireISA(accelISA)
}

// NeedsAccel reports whether the kernel prints only for sm_90a.
func (k *Kernel) NeedsAccel() bool { return k.accel }

// SharedBytes is the static shared memory the kernel declares.
func (k *Kernel) SharedBytes() int {
	n := 0
	for _, s := range k.shared {
		n = (n+s.align-1)/s.align*s.align + s.bytes
	}
	return n
}

// NewReg allocates a fresh register for values of type t.
func (k *Kernel) NewReg(t Type) Reg {
	if !t.valid() {
		k.fail("invalid type %v", t)
		t = B32
	}
	c := t.Class()
	k.counters[c]++
	return Reg{class: c, id: k.counters[c]}
}

func (k *Kernel) emit(in *Instr) {
	if in.guard.Valid() && in.guard.class != ClassPred {
		k.fail("%s: guard %v is not a predicate", in.op, in.guard)
	}
	for _, a := range in.args {
		if a.op == nil {
			k.fail("%s: nil operand", in.op)
			return
		}
		for _, r := range a.op.regs() {
			if !r.Valid() || r.id > k.counters[r.class] {
				k.fail("%s: register %v does not belong to this kernel", in.op, r)
			}
		}
	}
	*k.cur = append(*k.cur, in)
}

var errNoKernel = errors.New("ptx: module has no kernels")
