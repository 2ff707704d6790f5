package cpu

import "unsafe"

// StreamFill sets every element of dst to v with the stores Dequantize
// writes a large output with: where the kernel set has them, non-temporal
// stores that bypass the caches (the 64-byte aligned middle of dst; its
// ends, and everything under pure Go, with plain stores). It is the write
// half of a memory-bandwidth measurement: cmd/nf4bench holds Dequantize
// against it. (A buffer of zeros would not do: some machines write
// all-zero lines several times faster than any other.)
func StreamFill(dst []float32, v float32) {
	k := active
	if k == nil || k.fill == nil {
		fillGo(dst, v)
		return
	}
	head := int((64 - uintptr(unsafe.Pointer(unsafe.SliceData(dst)))%64) % 64 / 4)
	if head >= len(dst) {
		fillGo(dst, v)
		return
	}
	fillGo(dst[:head], v)
	body := dst[head:]
	steps := len(body) / 32 // 128 bytes a step
	if steps > 0 {
		k.fill(&body[0], steps, &v)
	}
	fillGo(body[32*steps:], v)
}

// fillGo is StreamFill's pure-Go twin.
func fillGo(dst []float32, v float32) {
	for i := range dst {
		dst[i] = v
	}
}
