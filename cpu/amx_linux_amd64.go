//go:build linux && amd64 && !purego

package cpu

import (
	"syscall"
	"unsafe"
)

// The arch_prctl codes and the XSAVE feature of the tile data (Linux,
// arch/x86/include/uapi/asm/prctl.h).
const (
	archGetXCompPerm  = 0x1022
	archReqXCompPerm  = 0x1023
	xfeatureXTileData = 18
)

// requestAMX asks Linux (5.16 or later) for the AMX tile data state,
// which it gives a process only on request since the state makes each
// signal frame about 8 KiB larger, and confirms the grant.
//
// Linux refuses the request (ENOSPC) when some thread's alternate signal
// stack is too small for the larger frame, and once granted refuses
// sigaltstack calls that set one too small. The Go runtime gives each
// thread a 32 KiB signal stack (mpreinit's gsignal, installed by
// minitSignalStack), well above the about 11.5 KiB a frame with the tile
// state takes, so neither affects it. Only in a cgo program may a thread
// keep a stack C code installed; if one is too small the request is
// refused, and the bf16 path then runs without tiles. The kernel saves
// the tile registers with the rest of the XSAVE state on context switches
// and around signal handlers; the tile kernel loads and releases its
// configuration within one assembly call, which Go does not preempt, so no
// tile state is live when the goroutine could move to another thread.
func requestAMX() bool {
	if _, _, e := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archReqXCompPerm, xfeatureXTileData, 0); e != 0 {
		return false
	}
	var perm uint64
	if _, _, e := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archGetXCompPerm, uintptr(unsafe.Pointer(&perm)), 0); e != 0 {
		return false
	}
	return perm&(1<<xfeatureXTileData) != 0
}
