//go:build unix

package checkpoint

import "syscall"

// openNoBlock makes opening a FIFO or a device return at once instead of
// waiting for the other end.
const openNoBlock = syscall.O_NONBLOCK
