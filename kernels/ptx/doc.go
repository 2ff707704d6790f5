// Package ptx builds PTX kernels from Go.
//
// The shape follows avo: a builder records an intermediate representation
// (typed virtual registers, instructions, structured control flow), a few
// passes run over it (dead-register elimination, a barrier-uniformity check)
// and a printer writes PTX text. Registers are never named by hand: the
// printer declares one counter per register class (%p, %rs, %r, %rd, %f) so
// names cannot collide, and labels come from If/Else and loops, never from
// the caller. Printing is deterministic: the same program gives
// byte-identical text.
//
// Builder methods never panic on misuse; the first error is recorded and
// returned by Kernel.Err and Module.Print, so a malformed program is never
// printed.
package ptx
