//go:build amd64 && !purego

package cpu

import (
	"slices"

	"golang.org/x/sys/cpu"
)

// nativeSet returns kernel set name if this CPU runs it, else nil.
func nativeSet(name string) *vecKernels {
	for _, k := range builtVariants() {
		if k.name == name && slices.Contains(vecVariants(), k) {
			return k
		}
	}
	return nil
}

// nativeDecodeBF16 returns the AVX-512 BF16 decode of the AMX path where
// this CPU runs it (with or without AMX), else nil.
func nativeDecodeBF16() panelDecodeFunc {
	if hasAVX512() && cpu.X86.HasAVX512BF16 {
		return decodeBF16AVX512
	}
	return nil
}
