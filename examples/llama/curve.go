package main

import (
	"fmt"
	"math"
	"strings"
)

// sparkline draws values as one line of block characters, averaged into at
// most width buckets, with the first and last values.
func sparkline(values []float64, width int) string {
	if len(values) == 0 {
		return "(no steps)"
	}
	n := min(width, len(values))
	buckets := make([]float64, n)
	for i := range buckets {
		lo, hi := i*len(values)/n, (i+1)*len(values)/n
		var s float64
		for _, v := range values[lo:hi] {
			s += v
		}
		buckets[i] = s / float64(hi-lo)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range buckets {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	const bars = "▁▂▃▄▅▆▇█"
	runes := []rune(bars)
	var b strings.Builder
	for _, v := range buckets {
		k := 0
		if hi > lo {
			k = int((v - lo) / (hi - lo) * float64(len(runes)-1))
		}
		b.WriteRune(runes[k])
	}
	return fmt.Sprintf("%.3f %s %.3f", values[0], b.String(), values[len(values)-1])
}
