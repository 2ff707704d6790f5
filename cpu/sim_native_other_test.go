//go:build !amd64 || purego

package cpu

// nativeSet returns nil: this build has no assembly kernels to run.
func nativeSet(string) *vecKernels { return nil }

// nativeDecodeBF16 returns nil: no assembly here.
func nativeDecodeBF16() panelDecodeFunc { return nil }
