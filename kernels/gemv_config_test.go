package kernels

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// The stand-in CUDA driver CI runs the device tests against
// (.ci/fakecuda) refuses a gemv grid that does not cover N at the kernel's
// rows per block: its table must be gemvConfigs'.
func TestFakeCUDAKnowsGemvRows(t *testing.T) {
	src, err := os.ReadFile("../.ci/fakecuda/fakecuda.c")
	if err != nil {
		t.Fatal(err)
	}
	want := "rows[9] = {0"
	for m := 1; m <= MaxGemvM; m++ {
		want += fmt.Sprintf(", %d", gemvRows(m))
	}
	want += "};"
	if !strings.Contains(string(src), want) {
		t.Errorf(".ci/fakecuda/fakecuda.c has no %q", want)
	}
}
