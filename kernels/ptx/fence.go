package ptx

// Grid sizes beyond x, for kernels that split work along y or z.
const (
	NctaidY Special = "%nctaid.y"
	NctaidZ Special = "%nctaid.z"
)

// FenceGPU is membar.gl: the executing thread's earlier global writes are
// seen by every thread of the device before its later ones (the release
// half of a split-K handshake), and its later reads see what the writer
// made visible before its own fence (the acquire half).
func (k *Kernel) FenceGPU() {
	k.emit(&Instr{op: "membar.gl", effect: true})
}
