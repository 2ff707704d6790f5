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

// The stand-in driver sizes a tensor-core gemv's grid by 16-row tiles: its
// default must be gemvTCTiles, and it must read the tiles a name gives.
func TestFakeCUDAKnowsGemvTCTiles(t *testing.T) {
	src, err := os.ReadFile("../.ci/fakecuda/fakecuda.c")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("int tiles = %d;", gemvTCTiles),
		fmt.Sprintf("tiles <= %d", MaxGemvTCTiles),
		fmt.Sprintf("mgemv >= %d", MinGemvTCM),
		fmt.Sprintf("mgemv <= %d", MaxGemvTCM),
		`sscanf(name, "nf4_gemv_tc_m%d_t%d"`,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf(".ci/fakecuda/fakecuda.c has no %q", want)
		}
	}
	if g := (&GemvTC{M: 3, BlockSize: 64, Tiles: 3}); !strings.HasPrefix(g.Name(), "nf4_gemv_tc_m3_t3_") {
		t.Errorf("gemv_tc with 3 tiles is named %s", g.Name())
	}
	if g := (&GemvTC{M: 3, BlockSize: 64, Tiles: gemvTCTiles}); g.Name() != "nf4_gemv_tc_m3_b64" {
		t.Errorf("gemv_tc with the default tiles is named %s", g.Name())
	}
}
