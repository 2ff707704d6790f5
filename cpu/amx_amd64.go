//go:build amd64 && !purego

package cpu

import (
	"sync"

	"golang.org/x/sys/cpu"
)

// amxRefusedForTest makes amxPermitted answer as if the OS had refused
// the tile state, so that the fallback is tested on every machine.
var amxRefusedForTest bool

// amxGranted asks for the tile state once: on the first bf16 call that
// could use it, not at start-up, so a program that never calls LinearBF16
// never changes its signal frames. The decode of W into the tiles' rows
// needs AVX512_BF16 too (every CPU with AMX-BF16 so far has it).
var amxGranted = sync.OnceValue(func() bool {
	return cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16 && hasAVX512() && cpu.X86.HasAVX512BF16 && requestAMX()
})

// amxPermitted reports whether this process may run the AMX-BF16 kernel.
func amxPermitted() bool { return !amxRefusedForTest && amxGranted() }
