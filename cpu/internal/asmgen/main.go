// Command asmgen writes the amd64 kernels of package cpu with avo.
// Run it through go generate in cpu/.
package main

import (
	. "github.com/mmcloughlin/avo/build"
)

func main() {
	ConstraintExpr("amd64,!purego")
	for m := 1; m <= 8; m++ {
		gemv(m)
	}
	gemvShort()
	decode()
	for r := 1; r <= 6; r++ {
		gemm(r, 16)
	}
	quantize()
	Generate()
}
