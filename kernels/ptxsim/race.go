package ptxsim

import "fmt"

// raceShadow remembers, per shared byte, who last wrote and read it in the
// current barrier interval. Two different threads touching a byte in the
// same interval, one of them writing, is a race: no instruction orders them.
type raceShadow struct {
	epoch  int32
	wEpoch []int32
	writer []int32
	rEpoch []int32
	reader []int32 // -1: several readers
}

func newRaceShadow(n int) *raceShadow {
	return &raceShadow{epoch: 1, wEpoch: make([]int32, n), writer: make([]int32, n),
		rEpoch: make([]int32, n), reader: make([]int32, n)}
}

func (r *raceShadow) reset() {
	r.epoch++
	if r.epoch > 1<<30 {
		clear(r.wEpoch)
		clear(r.rEpoch)
		r.epoch = 1
	}
}

// barrier starts a new interval.
func (r *raceShadow) barrier() { r.reset() }

// touch records an access and describes a conflict, if any.
func (r *raceShadow) touch(addr, n int, tid int32, write bool) string {
	e := r.epoch
	for i := addr; i < addr+n; i++ {
		if r.wEpoch[i] == e && r.writer[i] != tid {
			return fmt.Sprintf("thread %d wrote this byte since the last barrier", r.writer[i])
		}
		if write {
			if r.rEpoch[i] == e && r.reader[i] != tid {
				if r.reader[i] < 0 {
					return "other threads read this byte since the last barrier"
				}
				return fmt.Sprintf("thread %d read this byte since the last barrier", r.reader[i])
			}
			r.wEpoch[i], r.writer[i] = e, tid
		} else {
			if r.rEpoch[i] != e {
				r.rEpoch[i], r.reader[i] = e, tid
			} else if r.reader[i] != tid {
				r.reader[i] = -1
			}
		}
	}
	return ""
}
