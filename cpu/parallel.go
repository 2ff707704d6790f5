package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Threads reports how many goroutines the kernels split work across.
func Threads() int { return runtime.GOMAXPROCS(0) }

// piecesPerWorker is how many pieces parallelFor cuts the work into per
// worker. Workers take pieces as they finish the last, so one slowed by
// other work on its core (common on shared hosts) hands the rest to the
// others instead of holding everyone up at the end.
const piecesPerWorker = 4

// parallelFor runs fn over [0, n) in contiguous pieces of at least grain
// items, taken in order by Threads() workers, and waits for all of them.
// Every item is in exactly one call of fn.
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
	piece := max(grain, (n+piecesPerWorker*workers-1)/(piecesPerWorker*workers))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(piece))) - piece
				if lo >= n {
					return
				}
				fn(lo, min(lo+piece, n))
			}
		}()
	}
	wg.Wait()
}
