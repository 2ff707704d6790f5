package main

import (
	"math"
	"math/rand/v2"
)

// teacher labels inputs: class = argmax of tanh(x·T1)·T2. A shifted teacher
// keeps T1 and perturbs T2, so part of the labels move: a new task close
// to the old one, the situation LoRA fine-tuning is for.
type teacher struct {
	in, hidden, classes int
	t1, t2              []float64
}

func newTeacher(r *rand.Rand, in, hidden, classes int) *teacher {
	t := &teacher{in: in, hidden: hidden, classes: classes,
		t1: make([]float64, in*hidden), t2: make([]float64, hidden*classes)}
	for i := range t.t1 {
		t.t1[i] = r.NormFloat64() / math.Sqrt(float64(in))
	}
	for i := range t.t2 {
		t.t2[i] = r.NormFloat64()
	}
	return t
}

func (t *teacher) shifted(r *rand.Rand, amount float64) *teacher {
	s := *t
	s.t2 = make([]float64, len(t.t2))
	for i, v := range t.t2 {
		s.t2[i] = v + amount*r.NormFloat64()
	}
	return &s
}

func (t *teacher) label(x []float32) int {
	h := make([]float64, t.hidden)
	for j := range h {
		var s float64
		for i, v := range x {
			s += float64(v) * t.t1[i*t.hidden+j]
		}
		h[j] = math.Tanh(s)
	}
	best, bestV := 0, math.Inf(-1)
	for c := range t.classes {
		var s float64
		for j, v := range h {
			s += v * t.t2[j*t.classes+c]
		}
		if s > bestV {
			best, bestV = c, s
		}
	}
	return best
}

// batch is a set of inputs with their labels, as flat row-major slices.
type batch struct {
	x      []float32 // [size, in]
	onehot []float32 // [size, classes]
	labels []int
}

func (t *teacher) batch(r *rand.Rand, size int) batch {
	b := batch{x: make([]float32, size*t.in), onehot: make([]float32, size*t.classes), labels: make([]int, size)}
	for i := range size {
		row := b.x[i*t.in : (i+1)*t.in]
		for j := range row {
			row[j] = float32(r.NormFloat64())
		}
		b.labels[i] = t.label(row)
		b.onehot[i*t.classes+b.labels[i]] = 1
	}
	return b
}

// relabel returns the same inputs labelled by another teacher.
func (t *teacher) relabel(b batch) batch {
	out := batch{x: b.x, onehot: make([]float32, len(b.onehot)), labels: make([]int, len(b.labels))}
	for i := range b.labels {
		out.labels[i] = t.label(b.x[i*t.in : (i+1)*t.in])
		out.onehot[i*t.classes+out.labels[i]] = 1
	}
	return out
}
