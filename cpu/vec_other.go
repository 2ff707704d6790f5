//go:build !amd64 || purego

package cpu

func vecVariants() []*vecKernels { return nil }

func builtVariants() []*vecKernels { return nil }
