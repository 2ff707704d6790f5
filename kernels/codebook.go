package kernels

// Codebook is the NF4 code table: code c decodes to Codebook[c]·absmax.
var Codebook = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

// Midpoints returns the 15 decision thresholds between neighbouring codes
// as bitsandbytes computes them, (c[i]+c[i+1])/2 in float32. The code of
// v = x·(1/max(absmax, 1e-38)) is the number of midpoints strictly less
// than v (torch.bucketize), so a value on a midpoint takes the lower code.
func Midpoints() [15]float32 {
	var m [15]float32
	for i := range m {
		m[i] = (Codebook[i] + Codebook[i+1]) / 2
	}
	return m
}
