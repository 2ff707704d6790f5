package cpu

import (
	"runtime"
	"sync"
	"testing"
)

// TestParallelFor requires every item in exactly one call, each call's
// piece no smaller than grain (but the last), for item counts around the
// piece boundaries and several worker counts.
func TestParallelFor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 2, 7, 31, 32, 33, 100, 1000} {
			for _, grain := range []int{0, 1, 3, 16, 2000} {
				seen := make([]int, n)
				var mu sync.Mutex
				parallelFor(n, grain, func(lo, hi int) {
					if lo < 0 || hi > n || lo >= hi {
						t.Errorf("procs %d, n %d, grain %d: piece [%d, %d)", procs, n, grain, lo, hi)
						return
					}
					if hi-lo < grain && hi != n {
						t.Errorf("procs %d, n %d, grain %d: piece [%d, %d) under the grain", procs, n, grain, lo, hi)
					}
					mu.Lock()
					defer mu.Unlock()
					for i := lo; i < hi; i++ {
						seen[i]++
					}
				})
				for i, c := range seen {
					if c != 1 {
						t.Fatalf("procs %d, n %d, grain %d: item %d in %d calls", procs, n, grain, i, c)
					}
				}
			}
		}
	}
}
