package checkpoint

import (
	"errors"
	"runtime/debug"
	"sync"
	"unsafe"
)

// ErrFileChanged is wrapped by the error for an input that shrank while it
// was memory-mapped and read.
var ErrFileChanged = errors.New("the file shrank while it was being read (truncated or rewritten by another program)")

// A mapped file that another program truncates raises SIGBUS on the next
// read of a page past its new end, which would kill the process. Every
// read of a mapping here runs under guardMapped, which has the runtime
// turn that fault into a panic (debug.SetPanicOnFault) and the panic into
// an error naming the file. The mappings are registered so that a fault
// address can be traced to its file; a fault anywhere else is not ours to
// hide and goes on as a panic.
var mapped struct {
	sync.Mutex
	files map[uintptr]mappedFile // by start address
}

type mappedFile struct {
	size int
	path string
}

func registerMapping(b []byte, path string) {
	if len(b) == 0 {
		return
	}
	mapped.Lock()
	defer mapped.Unlock()
	if mapped.files == nil {
		mapped.files = map[uintptr]mappedFile{}
	}
	mapped.files[uintptr(unsafe.Pointer(&b[0]))] = mappedFile{len(b), path}
}

func unregisterMapping(b []byte) {
	if len(b) == 0 {
		return
	}
	mapped.Lock()
	defer mapped.Unlock()
	delete(mapped.files, uintptr(unsafe.Pointer(&b[0])))
}

// mappedAt returns the file mapped at addr and the offset of addr in it.
func mappedAt(addr uintptr) (path string, off int64, ok bool) {
	mapped.Lock()
	defer mapped.Unlock()
	for start, f := range mapped.files {
		if addr >= start && addr-start < uintptr(f.size) {
			return f.path, int64(addr - start), true
		}
	}
	return "", 0, false
}

// mappedData returns the file that b is a view of, if it is one.
func mappedData(b []byte) (path string, off int64, ok bool) {
	if len(b) == 0 {
		return "", 0, false
	}
	return mappedAt(uintptr(unsafe.Pointer(&b[0])))
}

func changedErr(path string, off int64) error {
	return fileErr(path, "%w: byte %d is gone", ErrFileChanged, off)
}

// guardMapped makes a fault in a mapped input, for the rest of the calling
// function, an error naming the file, stored in *err. Use it as
//
//	defer guardMapped(&err)()
func guardMapped(err *error) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		r := recover()
		if r == nil {
			return
		}
		if f, ok := r.(interface{ Addr() uintptr }); ok {
			if path, off, ok := mappedAt(f.Addr()); ok {
				*err = changedErr(path, off)
				return
			}
		}
		panic(r)
	}
}
