package cpu

import "math"

// Codebook holds the 16 NF4 values (QLoRA's NormalFloat), ascending.
// Index 7 is exactly zero and index 15 exactly one.
var Codebook = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

// ZeroCode is the code of 0.0; an all-zero block is made of it.
const ZeroCode = 7

// Midpoints are the decision thresholds between neighbouring codes: the
// exact midpoint of two codes, rounded down to float32. For a float32 v,
// v > Midpoints[i] holds exactly when v lies above the true midpoint, so
// counting the thresholds below v gives the nearest code with ties going to
// the lower one, using float32 compares only.
var Midpoints = func() (m [15]float32) {
	for i := range m {
		exact := (float64(Codebook[i]) + float64(Codebook[i+1])) / 2
		t := float32(exact)
		if float64(t) > exact {
			t = math.Nextafter32(t, float32(math.Inf(-1)))
		}
		m[i] = t
	}
	return m
}()

// NearestCode returns the code of v, a value already divided by its block's
// absmax: the nearest codebook entry, ties to the lower index.
func NearestCode(v float32) uint8 {
	// A four-level search over the 15 thresholds, written without branches
	// (random weights would mispredict every level): the code is the number
	// of thresholds strictly below v.
	m := &Midpoints
	c := 8 * bit(v > m[7])
	c += 4 * bit(v > m[c+3])
	c += 2 * bit(v > m[c+1])
	return c + bit(v > m[c])
}

// bit compiles to a flag move, not a branch.
func bit(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// pairTable maps a code byte to its two decoded values (low nibble first),
// so that decoding reads one table entry per byte.
var pairTable = func() (t [256][2]float32) {
	for b := range t {
		t[b] = [2]float32{Codebook[b&15], Codebook[b>>4]}
	}
	return t
}()

var pairTable64 = func() (t [256][2]float64) {
	for b := range t {
		t[b] = [2]float64{float64(Codebook[b&15]), float64(Codebook[b>>4])}
	}
	return t
}()
