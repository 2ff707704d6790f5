package ptxsim

import (
	"slices"
)

// Profile collects, for every kernel launched while it is set as
// Device.Profile, what each warp-level instruction costs the memory system:
// global accesses as 32-byte sectors and 128-byte lines per request, the
// L1/shared data-path wavefronts they take, shared-memory bank conflicts,
// cp.async and ldmatrix traffic, bytes per address space, and how often
// each instruction issued. Counts accumulate across launches.
//
// Lanes form one warp-level request when they execute the same instruction
// for the same (k-th) time between two points where every thread of the
// block waits (a warp collective, a barrier, or exit). That is exact for
// converged warps, which is how the project's kernels run; a lane that
// diverges and catches up later forms a request of its own.
//
// The wavefront rules (shared memory, and the same rule applied to the L1
// data stage for global accesses, an assumption):
//   - 32 banks of 4 bytes; a request is served in phases of at most 256
//     bytes: accesses of up to 8 bytes per lane are one phase of 32 lanes,
//     16-byte accesses two phases of 16 lanes (ldmatrix: one phase per 8×8
//     matrix, its 8 row addresses of 16 bytes each);
//   - a phase takes as many wavefronts as the largest number of distinct
//     4-byte words one bank must deliver (the same word to several lanes
//     of a phase is a broadcast; lanes of different phases do not share),
//     at least one;
//   - its ideal is one wavefront per 128 bytes of distinct words, and bank
//     conflicts are wavefronts minus the ideal.
//
// This matches Nsight Compute on H100 and A10 for 128-bit loads (NVIDIA
// developer forum, "Discrepancy in LDS.128 Wavefronts: Does SMEM broadcast
// across quarter-warps?"): contiguous, 4 wavefronts; lanes 0–15 and 16–31
// each reading one 16-byte word, 2; lanes t and t+16 reading one word at a
// 32-byte stride, 8.
//
// L2 traffic (Sectors sent on to L2): stores, atomics, cp.async.cg and loads
// that do not allocate in L1 (.cg, .cv, .L1::no_allocate) send every sector;
// other global loads send only the sectors that miss the block's L1, a
// least-recently-used cache of L1Bytes (in 32-byte sectors; 0 keeps
// everything a block read). Blocks do not share an L1 here: each has its
// own.
//
// Profiling costs nothing when Device.Profile is nil.
type Profile struct {
	// L1Bytes is the L1 capacity one block may use, for the L2 counts;
	// 0 means unlimited.
	L1Bytes int64

	kernels []*KernelProfile
}

// NewProfile returns an empty profile.
func NewProfile() *Profile { return &Profile{} }

// Kernels lists the profiled kernels in order of first launch.
func (p *Profile) Kernels() []*KernelProfile { return p.kernels }

// Kernel returns the profile of the named kernel, or nil.
func (p *Profile) Kernel(name string) *KernelProfile {
	for _, k := range p.kernels {
		if k.Name == name {
			return k
		}
	}
	return nil
}

func (p *Profile) forKernel(k *Kernel) *KernelProfile {
	for _, kp := range p.kernels {
		if kp.kernel == k {
			return kp
		}
	}
	kp := &KernelProfile{Name: k.name, kernel: k, Instrs: make([]InstrStats, len(k.code))}
	for i := range k.code {
		in := &k.code[i]
		kp.Instrs[i] = InstrStats{Line: int(in.line), Text: in.text, Class: classOf(in)}
	}
	p.kernels = append(p.kernels, kp)
	return kp
}

// MemClass is what a memory instruction does.
type MemClass uint8

// Memory instruction classes.
const (
	MemNone MemClass = iota
	GlobalLoad
	GlobalStore
	GlobalAtomic
	SharedLoad
	SharedStore
	SharedAtomic
	CpAsync  // global → shared copy; Bytes and Sectors on the global side, Wavefronts on the shared side
	Ldmatrix // shared → registers, 8×8 matrices of 16-bit elements
	ConstLoad
	ParamLoad
	Shuffle    // shfl.sync: no memory, but it travels the same pipe
	TensorCopy // cp.async.bulk.tensor: one box global → shared; Bytes and Sectors of the tensor's part, Wavefronts of the shared side
	numMemClasses
)

var memClassNames = [...]string{"-", "global load", "global store", "global atomic", "shared load",
	"shared store", "shared atomic", "cp.async", "ldmatrix", "const load", "param load", "shuffle", "tensor copy"}

func (c MemClass) String() string {
	if int(c) < len(memClassNames) {
		return memClassNames[c]
	}
	return "MemClass(?)"
}

// Global reports whether the class touches global memory.
func (c MemClass) Global() bool {
	return c == GlobalLoad || c == GlobalStore || c == GlobalAtomic || c == CpAsync || c == TensorCopy
}

// Shared reports whether the class uses the shared-memory banks.
func (c MemClass) Shared() bool {
	return c == SharedLoad || c == SharedStore || c == SharedAtomic || c == CpAsync || c == Ldmatrix || c == TensorCopy
}

// classOf is the static class; generic loads and stores are refined per
// request once their address says which space they hit.
func classOf(in *inst) MemClass {
	switch in.op {
	case opLd:
		switch in.space {
		case spShared:
			return SharedLoad
		case spConst:
			return ConstLoad
		case spParam:
			return ParamLoad
		}
		return GlobalLoad
	case opSt:
		if in.space == spShared {
			return SharedStore
		}
		return GlobalStore
	case opAtom:
		if in.space == spShared {
			return SharedAtomic
		}
		return GlobalAtomic
	case opCpAsync:
		return CpAsync
	case opLdmatrix:
		return Ldmatrix
	case opShfl:
		return Shuffle
	case opTensorLoad:
		return TensorCopy
	}
	return MemNone
}

// KernelProfile is the profile of one kernel.
type KernelProfile struct {
	Name     string
	Launches int
	Warps    int64 // warps of the blocks run
	// Instrs has one entry per static instruction, in program order (the
	// kernel's last entry is the implicit exit after its final statement).
	Instrs []InstrStats
	// CTAs has one entry per block run, in the order they ran.
	CTAs []CTAStats
	// UniqueCachedSectors counts, per launch and summed over launches, the
	// distinct sectors that L1-allocating global loads read across all the
	// blocks run: what blocks sharing one L1 would send to L2.
	UniqueCachedSectors int64

	kernel *Kernel
}

// CTAStats is what one block read through L1.
type CTAStats struct {
	CTA [3]int
	// CachedSectors are the distinct sectors its L1-allocating loads read,
	// RequestedCachedSectors every sector those loads requested, and
	// MissedSectors those that missed its L1.
	CachedSectors, RequestedCachedSectors, MissedSectors int64
}

// InstrStats are the counters of one static instruction.
type InstrStats struct {
	Line  int    // 1-based PTX line
	Text  string // the instruction
	Class MemClass
	// WarpExecs counts warp-level issues: every warp that reached the
	// instruction, with a false guard predicate too. ThreadExecs counts
	// the threads (lanes) that reached it.
	WarpExecs, ThreadExecs int64
	// Requests counts warp-level memory requests with at least one active
	// lane (or shuffles fired).
	Requests int64
	Bytes    int64 // bytes the active lanes read or wrote (both sides of a cp.async count once)
	Sectors  int64 // distinct 32-byte global sectors per request, summed
	Lines    int64 // distinct 128-byte global lines per request, summed
	// Wavefronts on the L1/shared data path, and the ideal (one per
	// active phase). For cp.async they are the shared-memory side.
	Wavefronts, IdealWavefronts int64
	L2Sectors                   int64 // sectors sent on to L2 (see Profile)
}

// BankConflicts is the excess over the ideal wavefronts.
func (s InstrStats) BankConflicts() int64 { return s.Wavefronts - s.IdealWavefronts }

// SectorsPerRequest is the mean number of sectors a request touches.
func (s InstrStats) SectorsPerRequest() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Sectors) / float64(s.Requests)
}

// WavefrontsPerRequest is the mean number of wavefronts a request takes.
func (s InstrStats) WavefrontsPerRequest() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Wavefronts) / float64(s.Requests)
}

func (s *InstrStats) add(o InstrStats) {
	s.WarpExecs += o.WarpExecs
	s.ThreadExecs += o.ThreadExecs
	s.Requests += o.Requests
	s.Bytes += o.Bytes
	s.Sectors += o.Sectors
	s.Lines += o.Lines
	s.Wavefronts += o.Wavefronts
	s.IdealWavefronts += o.IdealWavefronts
	s.L2Sectors += o.L2Sectors
}

// Sum adds up the counters of every instruction of class c (MemNone: all
// instructions, for the issue counts).
func (k *KernelProfile) Sum(c MemClass) InstrStats {
	t := InstrStats{Class: c}
	for _, s := range k.Instrs {
		if c == MemNone || s.Class == c {
			t.add(s)
		}
	}
	return t
}

// WarpInstrs is the number of warp-level PTX instructions issued.
func (k *KernelProfile) WarpInstrs() int64 { return k.Sum(MemNone).WarpExecs }

// Hottest returns the n memory instructions with the most wavefronts
// (ties: more sectors, then program order).
func (k *KernelProfile) Hottest(n int) []InstrStats {
	var ms []InstrStats
	for _, s := range k.Instrs {
		if s.Class != MemNone && s.Requests > 0 {
			ms = append(ms, s)
		}
	}
	slices.SortStableFunc(ms, func(a, b InstrStats) int {
		if a.Wavefronts != b.Wavefronts {
			return int(b.Wavefronts - a.Wavefronts)
		}
		return int(b.Sectors - a.Sectors)
	})
	if len(ms) > n {
		ms = ms[:n]
	}
	return ms
}

// Loop is a backward branch of the kernel: Instrs[Start..End] (End the
// branch) repeat.
type Loop struct{ Start, End int }

// Trips is how often the loop body began, per warp-level issue count of
// its first instruction.
func (k *KernelProfile) Trips(l Loop) int64 { return k.Instrs[l.Start].WarpExecs }

// Loops lists the kernel's backward branches, longest first.
func (k *KernelProfile) Loops() []Loop {
	var ls []Loop
	for pc, in := range k.kernel.code {
		if in.op == opBra && int(in.target) <= pc {
			ls = append(ls, Loop{Start: int(in.target), End: pc})
		}
	}
	slices.SortStableFunc(ls, func(a, b Loop) int { return (b.End - b.Start) - (a.End - a.Start) })
	return ls
}

// SpaceBytes are the bytes a kernel's active lanes moved, per address
// space and direction.
type SpaceBytes struct {
	GlobalRead, GlobalWritten int64 // loads, stores; atomics count both ways
	SharedRead, SharedWritten int64 // ldmatrix reads; cp.async writes
	CpAsync                   int64 // global → shared, counted once here
	Const, Param              int64
}

// Bytes adds up the bytes of every instruction by address space.
func (k *KernelProfile) Bytes() SpaceBytes {
	var b SpaceBytes
	for _, s := range k.Instrs {
		switch s.Class {
		case GlobalLoad:
			b.GlobalRead += s.Bytes
		case GlobalStore:
			b.GlobalWritten += s.Bytes
		case GlobalAtomic:
			b.GlobalRead += s.Bytes
			b.GlobalWritten += s.Bytes
		case SharedLoad, Ldmatrix:
			b.SharedRead += s.Bytes
		case SharedStore:
			b.SharedWritten += s.Bytes
		case SharedAtomic:
			b.SharedRead += s.Bytes
			b.SharedWritten += s.Bytes
		case CpAsync, TensorCopy:
			b.CpAsync += s.Bytes
		case ConstLoad:
			b.Const += s.Bytes
		case ParamLoad:
			b.Param += s.Bytes
		}
	}
	return b
}
