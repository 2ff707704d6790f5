//go:build unix

package cpu

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used: on a shared host it
// moves less than wall time, since waiting for a core does not count.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
