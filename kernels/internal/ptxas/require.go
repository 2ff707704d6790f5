package ptxas

import (
	"os"
	"testing"
)

// Require returns the ptxas and cuobjdump paths for a test. Without ptxas
// the test is skipped, unless $CI is set: there a missing tool is a failure.
func Require(tb testing.TB) (ptxasPath, cuobjdumpPath string) {
	tb.Helper()
	p, err := Find()
	if err == nil {
		c, cerr := FindCuobjdump(p)
		if cerr == nil {
			return p, c
		}
		err = cerr
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("CI is set and the CUDA tools are missing: %v", err)
	}
	tb.Skipf("skipping: %v", err)
	return "", ""
}

// RequireCUDA12 returns the CUDA 12.4 tools for a test. Without them the
// test is skipped, unless $CI is set: there a missing tool is a failure.
func RequireCUDA12(tb testing.TB) Tools {
	tb.Helper()
	t, err := FindCUDA12()
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("CI is set and the CUDA 12.4 tools are missing: %v", err)
		}
		tb.Skipf("skipping: %v", err)
	}
	return t
}
