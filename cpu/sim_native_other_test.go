//go:build !amd64 || purego

package cpu

// nativeSet returns nil: this build has no assembly kernels to run.
func nativeSet(string) *vecKernels { return nil }
