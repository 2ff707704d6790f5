// Command asmgen writes the amd64 kernels of package cpu with avo.
// Run it through go generate in cpu/; -set picks the instruction set
// (each set goes to its own file, so that the AVX2 one can be checked to
// use no AVX-512 register).
package main

import (
	"flag"
	"fmt"
	"os"

	. "github.com/mmcloughlin/avo/build"
)

func main() {
	set := flag.String("set", "avx2", "instruction set to write: avx2, avx512 or amx")
	flag.Parse()
	ConstraintExpr("amd64,!purego")
	switch *set {
	case "avx2":
		for m := 1; m <= 8; m++ {
			gemv(m)
		}
		gemvShort()
		decode(false)
		decode(true)
		for r := 1; r <= 6; r++ {
			gemm(r, 16)
		}
		quantize()
		peakFMA(false)
		streamFill(false)
	case "avx512":
		for m := 1; m <= 8; m++ {
			gemv512(m)
		}
		gemv512Short()
		gemv512Wide(true)
		gemv512Wide(false)
		gemv512WidePairs(true)
		gemv512WidePairs(false)
		il := interleave512()
		decode512(il, false)
		decode512(il, true)
		for r := 1; r <= 12; r++ {
			gemm512(r, 32)
		}
		quantize512()
		for m := 2; m <= 8; m++ {
			gemv512BF16(m)
		}
		gemv512WideBF16()
		gemv512WideBF16Pairs()
		// The bf16 tile path for CPUs without AMX; its decode serves
		// the AMX path too.
		tileBF16()
		amxDecode()
		peakFMA(true)
		peakBF16()
		streamFill(true)
	case "amx":
		amxTile(amxConfig())
	default:
		fmt.Fprintf(os.Stderr, "asmgen: unknown -set %q\n", *set)
		os.Exit(2)
	}
	Generate()
}
