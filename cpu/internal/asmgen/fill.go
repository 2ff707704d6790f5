package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// streamFill writes the write-bandwidth loop of a set: *v stored to n
// 128-byte steps of a 64-byte aligned dst with non-temporal stores, as
// the streaming dequantizer writes a large output. Its rate is the
// ceiling that dequantize is held against (writing zeros would not do:
// some machines write all-zero lines faster than any others).
func streamFill(zmm bool) {
	name, vec, width := "streamFillAVX2", func() reg.VecVirtual { return YMM() }, 32
	if zmm {
		name, vec, width = "streamFillAVX512", func() reg.VecVirtual { return ZMM() }, 64
	}
	TEXT(name, NOSPLIT, "func(dst *float32, n int, v *float32)")
	Doc(name + " stores *v to n·128 bytes at dst, bypassing the caches.")
	d := Load(Param("dst"), GP64())
	n := Load(Param("n"), GP64())
	v := vec()
	VBROADCASTSS(Mem{Base: Load(Param("v"), GP64())}, v)
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_step")
	for off := 0; off < 128; off += width {
		VMOVNTPS(v, Mem{Base: d, Disp: off})
	}
	ADDQ(U32(128), d)
	DECQ(n)
	JNZ(LabelRef(name + "_step"))
	Label(name + "_done")
	SFENCE() // the streamed stores are ordered before any that follow
	VZEROUPPER()
	RET()
}
