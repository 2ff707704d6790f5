// Package ptxsim is a functional simulator for the PTX text emitted by this
// project's kernel builder. It exists so that every GPU kernel can be run and
// checked against the CPU reference in an ordinary go test, on machines
// without a GPU.
//
// It parses PTX text (the form the driver sees), pre-decodes each
// instruction into a compact form, and executes launches on the CPU:
//
//	mod, err := ptxsim.Load(text)
//	k, err := mod.Kernel("name")
//	dev := ptxsim.NewDevice()
//	x := dev.Alloc(4 * n)
//	dev.WriteFloat32s(x, data)
//	err = dev.Launch(k, [3]int{g, 1, 1}, [3]int{256, 1, 1}, 0, uint64(x), uint64(n))
//
// Supported PTX: the module header (.version, .target, .address_size);
// .const variables with initialisers; .visible .entry kernels with scalar
// .param parameters and .b8 array parameters passed by value (a tensor map;
// the launch argument is the device address of its bytes); .reg, .shared (static and .extern dynamic) declarations;
// labels and guard predicates (@%p, @!%p). Instructions: ld/st (.param,
// .global, .global.nc, .shared, .const, generic; .v2/.v4; 8 to 64 bits),
// cvta, mov (also packing and unpacking vectors), add, sub, mul
// (.lo/.hi/.wide), mad, fma, div, rem, neg, abs, min, max, rcp, sqrt, rsqrt,
// ex2, lg2, and, or, xor, not, shl, shr, bfe, bfi, prmt (default mode),
// lop3, popc, clz, brev, setp (every comparison, .and/.or/.xor), selp, cvt
// (integer widths, f16, bf16, tf32, f32, f64, every rounding mode, .sat,
// .ftz, f16x2/bf16x2 packing), bra, ret, exit, bar.sync, barrier.sync,
// bar.warp.sync, membar/fence, shfl.sync, vote.sync, atom and red (add, min,
// max, exch, cas, and, or, xor, inc, dec), mma.sync m16n8k16 (f16, bf16)
// and m16n8k8 (tf32) with f32 accumulators, ldmatrix (.x1/.x2/.x4,
// .trans) and cp.async with its groups; for sm_90a mbarrier (init,
// arrive[.expect_tx], try_wait.parity), cp.async.bulk.tensor.2d tile copies
// completing on an mbarrier, fence.proxy.async, fence.mbarrier_init and
// wgmma (fence, commit_group, wait_group, mma_async m64nNk16 .f32 with bf16
// or f16 operands from shared memory through matrix descriptors; see
// hopper.go for their semantics). Anything else is an *Error naming
// the line, at load time.
//
// Execution model. Blocks run one after another. Inside a block every
// thread has its own program counter and registers and runs alone until it
// reaches a synchronising instruction (bar.sync, a warp collective such as
// shfl.sync, vote.sync, mma.sync, ldmatrix, bar.warp.sync) or exits. A warp
// collective executes once every lane named by its member mask (all lanes of
// the warp for mma and ldmatrix) waits at that same instruction; bar.sync
// releases once every thread of the block that has not exited waits at it.
// Per-thread program counters make divergence and reconvergence exact
// without a reconvergence stack, and match the independent thread scheduling
// of sm_70 and later. Threads that exited do not hold a barrier up. Within a
// barrier interval threads run one after another, so code that spins on a
// flag another thread of the same block sets may spin until the step limit
// (Device.MaxSteps) ends it with an error.
//
// Checks, in the spirit of compute-sanitizer: out-of-bounds and misaligned
// global, shared, param and const accesses; reads of uninitialised global or
// shared bytes; a barrier reached at different instructions, or one that can
// never complete; collectives whose member lanes exited or wait elsewhere;
// shared-memory data races between barriers (two threads touching the same
// byte between two barriers, at least one of them writing, outside atomics;
// only bar.sync delimits intervals, so warp-synchronous shared-memory code
// is reported too, and Device.NoRaceCheck turns the check off).
// Each error is an *Error naming the kernel, block, thread, line and
// instruction text.
//
// Profiling: with Device.Profile set, a launch also counts what every
// warp-level memory instruction costs (global sectors and lines per request,
// L1 and shared-memory wavefronts and bank conflicts, cp.async and ldmatrix
// traffic, L1 misses, bytes) and how often each instruction issued, per
// kernel and per PTX line (see Profile). LaunchBlocks runs only some blocks of
// a grid and AllocGenerated backs a buffer with data made on first touch, so
// a few blocks of a full-size problem can be measured cheaply; kernels/perf
// builds its predictions on these counts.
//
// Numerics: f32 and f64 arithmetic is IEEE correctly rounded; .approx
// instructions return the correctly rounded result, which lies inside the
// documented error bound. mma.sync multiplies exactly and accumulates in
// float64, rounding once to f32: real tensor cores are less precise, never
// more.
package ptxsim
