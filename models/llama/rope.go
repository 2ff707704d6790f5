package llama

import "math"

// rope holds the rotary embedding's inverse frequencies, one per pair of
// a head's dimensions, computed in float32 as transformers computes them.
type rope struct {
	invFreq []float32
	half    int
}

func newRope(c *Config) *rope {
	half := c.HeadDim / 2
	r := &rope{invFreq: make([]float32, half), half: half}
	for i := range half {
		// 1 / base^(2i/dim), with the exponent and the power in float32
		e := float32(2*i) / float32(c.HeadDim)
		r.invFreq[i] = float32(1 / float64(float32(math.Pow(c.RopeTheta, float64(e)))))
	}
	if s := c.RopeScaling; s != nil {
		switch s.RopeType {
		case "linear":
			for i := range r.invFreq {
				r.invFreq[i] = float32(float64(r.invFreq[i]) / s.Factor)
			}
		case "llama3":
			llama3Scale(r.invFreq, s)
		}
	}
	return r
}

// llama3Scale applies Llama 3.1's rope scaling: long wavelengths are slowed
// by Factor, short ones kept, and those between blended smoothly.
func llama3Scale(invFreq []float32, s *RopeScaling) {
	old := float64(s.OriginalMaxPositionEmbeddings)
	lowWavelen := old / s.LowFreqFactor
	highWavelen := old / s.HighFreqFactor
	for i, f := range invFreq {
		wavelen := 2 * math.Pi / float64(f)
		switch {
		case wavelen < highWavelen:
			// high frequency: unchanged
		case wavelen > lowWavelen:
			invFreq[i] = float32(float64(f) / s.Factor)
		default:
			smooth := (old/wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
			invFreq[i] = float32((1-smooth)*float64(f)/s.Factor + smooth*float64(f))
		}
	}
}

// table fills cos and sin [half] for position pos.
func (r *rope) table(cos, sin []float32, pos int) {
	p := float32(pos)
	for i, f := range r.invFreq {
		a := float64(f * p)
		cos[i] = float32(math.Cos(a))
		sin[i] = float32(math.Sin(a))
	}
}

// apply rotates one head vector x [2·half] in place, as transformers'
// rotate_half does: the first half pairs with the second.
func applyRope(x, cos, sin []float32) {
	h := len(cos)
	for i := range h {
		a, b := x[i], x[i+h]
		x[i] = a*cos[i] - b*sin[i]
		x[i+h] = b*cos[i] + a*sin[i]
	}
}

// unapplyRope is the transpose of applyRope (the rotation by −angle), which
// carries a gradient back through it.
func unapplyRope(g, cos, sin []float32) {
	h := len(cos)
	for i := range h {
		a, b := g[i], g[i+h]
		g[i] = a*cos[i] + b*sin[i]
		g[i+h] = b*cos[i] - a*sin[i]
	}
}
