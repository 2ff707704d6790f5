package checkpoint

import (
	"math"
	"testing"
)

// Expected strings are Python 3's repr of the same float64 values.
func TestPyFloatMatchesPythonRepr(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{3, "3.0"},
		{0.0001, "0.0001"},
		{1e-05, "1e-05"},
		{1e16, "1e+16"},
		{1.5e16, "1.5e+16"},
		{123456789012345.6, "123456789012345.6"},
		{1234567890123456.7, "1234567890123456.8"},
		{0.1, "0.1"},
		{-2.5e-7, "-2.5e-07"},
		{1e300, "1e+300"},
		{5e-324, "5e-324"},
		{0.00012345, "0.00012345"},
		{9999999999999998.0, "9999999999999998.0"},
		{1e15, "1000000000000000.0"},
		{float64(float32(0.04568)), "0.04568000137805939"},
		{math.MaxFloat32, "3.4028234663852886e+38"},
		{math.NaN(), "NaN"},
		{math.Inf(-1), "-Infinity"},
	} {
		if got := pyFloat(c.v); got != c.want {
			t.Errorf("pyFloat(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}
