package cpu

import (
	"runtime"
	"sync"
)

// Threads reports how many goroutines the kernels split work across.
func Threads() int { return runtime.GOMAXPROCS(0) }

// parallelFor runs fn over [0, n) in contiguous chunks of at least grain
// items, one chunk per worker, and waits for all of them.
func parallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	workers := Threads()
	if grain < 1 {
		grain = 1
	}
	if most := (n + grain - 1) / grain; workers > most {
		workers = most
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
