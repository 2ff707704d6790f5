package kernels

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// The stand-in CUDA driver CI runs the device tests against
// (.ci/fakecuda) refuses a gemv grid that does not cover N at the kernel's
// rows per block: its table must be gemvConfigs', and it must read the
// rows a kernel's name gives.
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
	// Fewer rows (GemvRowsFor) are named: nf4_gemv_m1_r14_b64.
	if g := (&Gemv{M: 1, BlockSize: 64, Rows: 14}); !strings.HasPrefix(g.Name(), "nf4_gemv_m1_r14_") {
		t.Errorf("gemv with 14 rows is named %s", g.Name())
	}
	if parse := `sscanf(name, "nf4_gemv_m%d_r%d"`; !strings.Contains(string(src), parse) {
		t.Errorf(".ci/fakecuda/fakecuda.c has no %q", parse)
	}
}
