package main

import (
	"fmt"
	"strconv"
	"strings"
)

// shape is one weight matrix's N×K.
type shape struct{ n, k int }

func (s shape) String() string {
	if s.n == s.k {
		return fmt.Sprintf("N=K=%d", s.n)
	}
	return fmt.Sprintf("N=%d K=%d", s.n, s.k)
}

// plan is what a run times: the products' shapes and batches.
type plan struct {
	quick   bool
	shapes  []shape
	batches []int
}

// Limits on -shape and -batches: the largest matrix (and its copies, which
// together hold three times the cache) and batch a 64-bit host times in
// reasonable memory.
const (
	maxDim   = 1 << 16
	maxBatch = 4096
)

// newPlan parses -quick, -shape (NxK, or empty for the default sizes) and
// -batches (comma-separated batch sizes).
func newPlan(quick bool, shapeFlag, batchFlag string) (plan, error) {
	p := plan{quick: quick, shapes: []shape{{4096, 4096}, {8192, 8192}}}
	if quick {
		p.shapes = p.shapes[:1]
	}
	if shapeFlag != "" {
		ns, ks, ok := strings.Cut(strings.ToLower(shapeFlag), "x")
		n, errN := strconv.Atoi(ns)
		k, errK := strconv.Atoi(ks)
		switch {
		case !ok || errN != nil || errK != nil:
			return plan{}, fmt.Errorf("-shape %q: want NxK, two integers such as 4096x14336", shapeFlag)
		case n < 1 || k < 1 || n > maxDim || k > maxDim:
			return plan{}, fmt.Errorf("-shape %q: N and K must be from 1 to %d", shapeFlag, maxDim)
		}
		p.shapes = []shape{{n, k}}
	}
	seen := map[int]bool{}
	for _, f := range strings.Split(batchFlag, ",") {
		m, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || m < 1 || m > maxBatch {
			return plan{}, fmt.Errorf("-batches %q: %q is not a batch size from 1 to %d", batchFlag, f, maxBatch)
		}
		if seen[m] {
			return plan{}, fmt.Errorf("-batches %q: %d given twice", batchFlag, m)
		}
		seen[m] = true
		p.batches = append(p.batches, m)
	}
	return p, nil
}
