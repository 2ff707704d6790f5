//go:build unix

package checkpoint

import (
	"errors"
	"os"
	"syscall"
)

const (
	// openNoBlock makes opening a FIFO or a device return at once
	// instead of waiting for the other end.
	openNoBlock  = syscall.O_NONBLOCK
	openNoFollow = syscall.O_NOFOLLOW
)

// lockFile takes an exclusive lock on f that lasts while the process
// holds f open: the kernel drops it when the process dies, even by
// SIGKILL, which is how a later run tells a stale temporary file from
// one being written.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// tryLock reports whether f could be locked: no running process holds it.
func tryLock(f *os.File) bool { return lockFile(f) == nil }

// keepOwner gives a file written as root the owner of the file it
// replaces, so replacing a user's file does not hand it to root.
func keepOwner(f *os.File, old os.FileInfo) error {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}

// isFault reports a write(2) that read unmapped memory: a mapped input
// that shrank, met by the kernel rather than by a load.
func isFault(err error) bool { return errors.Is(err, syscall.EFAULT) }
