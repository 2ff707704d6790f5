//go:build !nf4cuda

package main

import "github.com/nf4go/nf4"

// engineOptions keeps the NF4 layers on the CPU; build with -tags nf4cuda
// to run them on a GPU.
func engineOptions() []nf4.EngineOption { return nil }
