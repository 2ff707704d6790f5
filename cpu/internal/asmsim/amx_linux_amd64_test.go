//go:build linux && amd64 && !purego

package asmsim

import (
	"sync"
	"syscall"
	"unsafe"
)

// amxGranted asks Linux once for the AMX tile data state (XSAVE feature
// 18, arch_prctl ARCH_REQ_XCOMP_PERM) and confirms it with
// ARCH_GET_XCOMP_PERM, as package cpu does.
var amxGranted = sync.OnceValue(func() bool {
	if _, _, e := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, 0x1023, 18, 0); e != 0 {
		return false
	}
	var perm uint64
	_, _, e := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, 0x1022, uintptr(unsafe.Pointer(&perm)), 0)
	return e == 0 && perm&(1<<18) != 0
})
