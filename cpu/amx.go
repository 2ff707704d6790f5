package cpu

// amxMinRows is the smallest batch LinearBF16 runs on tiles: a tile of x
// holds 16 of its rows, so fewer would leave most of each multiply unused.
const amxMinRows = 16

// AMXKernels reports whether LinearBF16 runs the AMX-BF16 tile kernel for
// batches of 16 rows or more with the kernel set in use: on a CPU with
// AMX-BF16, where the OS granted the tile state to this process.
func AMXKernels() bool { return active != nil && active.amx != nil && active.amx.ready() }
