//go:build nf4cuda

package main

import (
	"flag"

	"github.com/nf4go/nf4"
)

var device = flag.Int("device", 0, "CUDA device to run the NF4 layers on")

// engineOptions puts the NF4 layers on the GPU in a build with -tags nf4cuda.
func engineOptions() []nf4.EngineOption { return []nf4.EngineOption{nf4.WithDevice(*device)} }
