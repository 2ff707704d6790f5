package kernels_test

import (
	"fmt"
	"strings"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptx"
)

// What a launcher needs from a kernel: its entry name, parameter order,
// launch geometry for a shape, and PTX text for the device's architecture.
func ExampleGemv() {
	g, err := kernels.NewGemv(1, 64, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := g.Launch(kernels.Shape{M: 1, N: 4096, K: 4096, BlockSize: 64})
	if err != nil {
		fmt.Println(err)
		return
	}
	src, err := g.PTX(ptx.SM90)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Name(), g.Params())
	fmt.Println(l.Grid, l.Block, l.SharedBytes)
	fmt.Println(strings.Contains(src, ".visible .entry "+g.Name()))
	// Output:
	// nf4_gemv_m1_b64 [x codes absmax y n k]
	// [256 1 1] [128 1 1] 512
	// true
}
