package llama

import (
	"errors"
	"fmt"
	"math"
)

// TrainConfig sets up a Trainer: AdamW (decoupled weight decay, as
// torch.optim.AdamW) under a linear warm-up then a cosine decay of the
// learning rate, gradient accumulation and clipping of the global norm.
type TrainConfig struct {
	LR          float64 // peak learning rate (default 2e-4)
	WeightDecay float64 // decoupled weight decay (default 0)
	Beta1       float64 // default 0.9
	Beta2       float64 // default 0.999
	Eps         float64 // default 1e-8
	// Steps is the number of optimizer steps the schedule spans (required);
	// Warmup of them ramp the rate up linearly from 0. After warm-up the
	// rate follows a cosine from LR down to MinLR at step Steps.
	Steps, Warmup int
	MinLR         float64
	// Accumulate averages the gradients of this many batches per step
	// (default 1).
	Accumulate int
	// ClipNorm scales the averaged gradients down when their global L2 norm
	// exceeds it (0: no clipping).
	ClipNorm float64
}

func (c TrainConfig) withDefaults() (TrainConfig, error) {
	if c.LR == 0 {
		c.LR = 2e-4
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	if c.Accumulate == 0 {
		c.Accumulate = 1
	}
	bad := func(f string, v any) (TrainConfig, error) {
		return c, fmt.Errorf("llama: train config: %s = %v", f, v)
	}
	ok := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }
	switch {
	case !ok(c.LR) || c.LR == 0:
		return bad("LR", c.LR)
	case !ok(c.WeightDecay):
		return bad("WeightDecay", c.WeightDecay)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return bad("Beta1", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return bad("Beta2", c.Beta2)
	case !ok(c.Eps) || c.Eps == 0:
		return bad("Eps", c.Eps)
	case c.Steps <= 0:
		return bad("Steps (want > 0)", c.Steps)
	case c.Warmup < 0 || c.Warmup > c.Steps:
		return bad("Warmup (want 0…Steps)", c.Warmup)
	case !ok(c.MinLR) || c.MinLR > c.LR:
		return bad("MinLR (want 0…LR)", c.MinLR)
	case c.Accumulate < 0:
		return bad("Accumulate", c.Accumulate)
	case !ok(c.ClipNorm):
		return bad("ClipNorm", c.ClipNorm)
	}
	return c, nil
}

// LRAt returns the learning rate of optimizer step s (0-based).
func (c TrainConfig) LRAt(s int) float64 {
	if s < c.Warmup {
		return c.LR * float64(s+1) / float64(c.Warmup+1)
	}
	span := c.Steps - c.Warmup
	if span <= 0 {
		return c.LR
	}
	p := math.Min(1, float64(s-c.Warmup)/float64(span))
	return c.MinLR + (c.LR-c.MinLR)*0.5*(1+math.Cos(math.Pi*p))
}

// Trainer runs AdamW on a training graph's learnables.
type Trainer struct {
	Graph  *Graph
	Config TrainConfig
	step   int
	acc    [][]float64 // gradient sums of the current step
	m, v   [][]float64
}

// StepStats reports one optimizer step.
type StepStats struct {
	Step     int     // 1-based
	Loss     float64 // mean over the accumulated batches
	GradNorm float64 // global L2 norm before clipping
	LR       float64
}

func (s StepStats) String() string {
	return fmt.Sprintf("step %d: loss %.4f, grad norm %.3g, lr %.3g", s.Step, s.Loss, s.GradNorm, s.LR)
}

// NewTrainer prepares AdamW for the graph, which must train.
func NewTrainer(g *Graph, c TrainConfig) (*Trainer, error) {
	if g == nil || !g.Options.Train {
		return nil, errors.New("llama: NewTrainer: want a graph built with Train")
	}
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Trainer{Graph: g, Config: c}
	for _, p := range g.Params {
		n := p.Shape().TotalSize()
		t.acc = append(t.acc, make([]float64, n))
		t.m = append(t.m, make([]float64, n))
		t.v = append(t.v, make([]float64, n))
	}
	return t, nil
}

// Steps returns the number of optimizer steps taken.
func (t *Trainer) Steps() int { return t.step }

// Step runs Accumulate batches (exactly that many must be given), averages
// their gradients, clips them and takes one AdamW step on the learnables.
// A non-finite loss or gradient is an error and leaves the weights as
// they were.
func (t *Trainer) Step(batches ...Batch) (StepStats, error) {
	c := t.Config
	if len(batches) != c.Accumulate {
		return StepStats{}, fmt.Errorf("llama: Step: %d batches, want Accumulate = %d", len(batches), c.Accumulate)
	}
	for _, a := range t.acc {
		clear(a)
	}
	var loss float64
	for _, b := range batches {
		l, err := t.Graph.Run(b)
		if err != nil {
			return StepStats{}, err
		}
		loss += l
		grads, err := t.Graph.Grads()
		if err != nil {
			return StepStats{}, err
		}
		for i, g := range grads {
			a := t.acc[i]
			for j, v := range g {
				a[j] += float64(v)
			}
		}
	}
	k := float64(len(batches))
	loss /= k
	var sq float64
	for _, a := range t.acc {
		for j := range a {
			a[j] /= k
			sq += a[j] * a[j]
		}
	}
	norm := math.Sqrt(sq)
	st := StepStats{Step: t.step + 1, Loss: loss, GradNorm: norm, LR: c.LRAt(t.step)}
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return st, fmt.Errorf("llama: step %d: loss %v, gradient norm %v: not finite; weights left unchanged", st.Step, loss, norm)
	}
	clip := 1.0
	if c.ClipNorm > 0 && norm > c.ClipNorm {
		clip = c.ClipNorm / (norm + 1e-6)
	}
	t.step++
	lr := st.LR
	bc1 := 1 - math.Pow(c.Beta1, float64(t.step))
	bc2 := 1 - math.Pow(c.Beta2, float64(t.step))
	for i, p := range t.Graph.Params {
		w := p.Data().([]float32)
		a, m, v := t.acc[i], t.m[i], t.v[i]
		for j := range w {
			g := a[j] * clip
			m[j] = c.Beta1*m[j] + (1-c.Beta1)*g
			v[j] = c.Beta2*v[j] + (1-c.Beta2)*g*g
			x := float64(w[j]) * (1 - lr*c.WeightDecay)
			w[j] = float32(x - lr*(m[j]/bc1)/(math.Sqrt(v[j]/bc2)+c.Eps))
		}
	}
	return st, nil
}
