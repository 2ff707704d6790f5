//go:build !unix

package cpu

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
