package kernels

import "math"

// Codebook is the NF4 code table: code c decodes to Codebook[c]·absmax.
var Codebook = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

// Midpoints returns the 15 decision thresholds between neighbouring codes:
// the exact midpoint (c[i]+c[i+1])/2 rounded down to float32, as cpu does.
// The code of v = x/absmax is the number of midpoints strictly less than v;
// rounding down makes v > m[i] hold exactly when v lies above the true
// midpoint, so a tie goes to the lower index with float32 compares only.
func Midpoints() [15]float32 {
	var m [15]float32
	for i := range m {
		exact := (float64(Codebook[i]) + float64(Codebook[i+1])) / 2
		t := float32(exact)
		if float64(t) > exact {
			t = math.Nextafter32(t, float32(math.Inf(-1)))
		}
		m[i] = t
	}
	return m
}
