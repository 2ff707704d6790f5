package perf

import (
	"fmt"
	"sort"
	"strings"
)

// Value is a number with the source it comes from. Kind says whether it is
// a vendor figure (spec), a measurement (measured), derived from others by
// arithmetic (derived), or a model assumption to be calibrated (assumed).
type Value struct {
	V      float64
	Kind   string // "spec", "measured", "derived" or "assumed"
	Source string
}

func spec(v float64, src string) Value     { return Value{v, "spec", src} }
func measured(v float64, src string) Value { return Value{v, "measured", src} }
func derived(v float64, src string) Value  { return Value{v, "derived", src} }
func assumed(v float64, src string) Value  { return Value{v, "assumed", src} }

// Device is a GPU profile for the model. Every number carries its source.
// Pipe rates are warp-level instructions per SM clock per SM.
type Device struct {
	Name, Key string
	SM        int // compute capability ×10, the PTX target the kernels are built for

	SMs            Value
	ClockHz        Value // SM clock the non-tensor rates are quoted at
	TensorClockHz  Value // clock of the dense tensor-core rate
	Schedulers     Value // warp schedulers per SM, each issuing one warp instruction per clock
	MaxWarpsPerSM  Value
	MaxCTAsPerSM   Value
	RegsPerSM      Value // 32-bit registers
	RegAllocUnit   Value // registers are allocated per warp in units of this many
	SharedPerSM    Value // bytes usable as shared memory (the largest carve-out)
	SharedPerCTA   Value // largest opt-in shared memory of one block
	SharedReserved Value // bytes the system reserves in each block's shared memory
	L1SharedBytes  Value // unified L1 + shared per SM

	FMARate  Value // f32 FFMA/FADD/FMUL (and packed f16) per clock
	IMADRate Value // IMAD family (fmaheavy only)
	ALURate  Value
	XURate   Value
	FP64Rate Value
	LSURate  Value // instructions the memory pipe (MIO→LSU) accepts
	// TensorFMAsPerClk is the dense bf16/f16 multiply-add rate of one SM
	// at TensorClockHz; MmaSyncEfficiency the share of it mma.sync
	// (HMMA) reaches, warpgroup MMA (HGMMA) reaching all of it.
	TensorFMAsPerClk  Value
	MmaSyncEfficiency Value

	L1WavefrontsPerClk Value // L1/shared data-path wavefronts (128 B) per clock
	// ShuffleWavefronts is 1 when a shuffle is assumed to take a data-path
	// wavefront, 0 when not.
	ShuffleWavefronts Value

	L2Bytes       Value
	L2Bandwidth   Value // bytes/s between L2 and the SMs
	DRAMBandwidth Value // vendor peak, bytes/s
	CopyBandwidth Value // achievable device-to-device copy (read + write), bytes/s: the memory limit
	DRAMLatency   Value // seconds from a load's issue to its data, under load
	L2Latency     Value // the same for a load that hits in L2

	FP32Peak       Value // FLOP/s, the float32 GEMM's limit
	TensorPeakBF16 Value // dense bf16 FLOP/s, the tensor-core GEMM's limit
}

const (
	srcWhitepaper = "NVIDIA H100 Tensor Core GPU Architecture whitepaper (v1.04), Table 3 and \"H100 SM Architecture\""
	srcH100Sheet  = "NVIDIA H100 Tensor Core GPU datasheet (SXM5 column)"
	srcH200Sheet  = "NVIDIA H200 Tensor Core GPU datasheet (H200 SXM column)"
	srcGuide      = "CUDA C++ Programming Guide 12.4, \"Technical Specifications per Compute Capability\" (9.0)"
	srcThroughput = "CUDA C++ Programming Guide 12.4 §5.4.1, \"Throughput of Native Arithmetic Instructions\" (9.0), results per clock per SM ÷ 32"
	srcTuning     = "NVIDIA Hopper Tuning Guide §1.4.2.3 (unified shared memory/L1/texture cache)"
	srcKinds      = "measured on an H200 SXM machine lent to this project, 2026-10-28 (PyTorch device properties, nvidia-smi, a 1 GiB device-to-device copy)"
	srcAnalysis   = "the static analysis of these kernels (shared/reference/gpu-kernel-analysis.md, machine model)"
)

// hopperSM fills the per-SM facts H100 and H200 share (same GH100 SM).
func hopperSM(d *Device) {
	d.SM = 90
	d.Schedulers = spec(4, srcWhitepaper+": four SM sub-partitions, each with one warp scheduler dispatching one warp instruction per clock")
	d.MaxWarpsPerSM = spec(64, srcGuide+": 64 resident warps per SM")
	d.MaxCTAsPerSM = spec(32, srcGuide+": 32 resident blocks per SM")
	d.RegsPerSM = spec(65536, srcGuide+": 64 K 32-bit registers per SM")
	d.RegAllocUnit = spec(256, "CUDA Occupancy Calculator: registers are allocated per warp in units of 256 (8 per thread) on cc 9.0")
	d.SharedPerSM = spec(228<<10, srcTuning+": shared-memory capacity up to 228 KB per SM")
	d.SharedPerCTA = spec(227<<10, srcTuning+": a block can address up to 227 KB")
	d.SharedReserved = spec(1<<10, srcGuide+": 1 KB of shared memory per block is reserved for system use")
	d.L1SharedBytes = spec(256<<10, srcTuning+": 256 KB combined L1/texture/shared per SM")
	d.FMARate = derived(4, srcThroughput+": 128 f32 add/mul/fma results → 4 warp instructions")
	d.IMADRate = derived(2, srcThroughput+": 64 32-bit integer multiply(-add) results → 2")
	d.ALURate = derived(2, srcThroughput+": 64 results for integer add, shift, compare/min/max and logic → 2")
	d.XURate = derived(0.5, srcThroughput+": 16 results for rcp/rsqrt/log2/exp2/sin/cos and type conversions → 0.5")
	d.FP64Rate = derived(2, srcThroughput+": 64 f64 results → 2")
	d.LSURate = assumed(1, "NVIDIA developer forum (\"each cycle the MIO unit can issue 1 instruction to the LSU pipe\"), as in "+srcAnalysis+"; consistent with the guide's 32 warp-shuffle results per clock per SM")
	d.TensorFMAsPerClk = derived(2048, srcWhitepaper+": 4 tensor cores per SM, each 512 dense f16/bf16 FMA per clock (twice A100's 256); 132 SMs × 2048 FMA × 2 × 1.83 GHz = 989 TFLOP/s")
	d.MmaSyncEfficiency = assumed(0.62, srcAnalysis+": mma.sync reaches about 613 of the 989 TFLOP/s on Hopper; wgmma the full rate")
	d.L1WavefrontsPerClk = derived(1, srcGuide+": 32 banks of 32 bits each deliver 128 B per clock per SM (the whitepaper's 33 TB/s of shared-memory bandwidth = 132 × 128 B × 1.98 GHz)")
	d.ShuffleWavefronts = assumed(1, srcAnalysis+": a shuffle is assumed to take one L1TEX data-path wavefront (not confirmed)")
	d.L2Bandwidth = assumed(7.0e12, "no vendor figure; Chips and Cheese measured about 5.5 TB/s of L2 bandwidth on the 114-SM H100 PCIe at ≤1.755 GHz (\"Nvidia's H100: Funny L2, and Tons of Bandwidth\", 2023), scaled to 132 SMs at 1.98 GHz; "+srcAnalysis+" assumes 6–10 TB/s")
	d.DRAMLatency = assumed(700e-9, srcAnalysis+": ≈3 MB in flight to sustain 4.3 TB/s (≈700 ns under load); unloaded pointer-chase latency on Hopper is lower (≈480 cycles, arXiv:2402.13499)")
	d.L2Latency = assumed(250e-9, "unloaded L2-hit latency on Hopper is ≈260 cycles (arXiv:2402.13499, ≈130 ns at 1.98 GHz); doubled for load")
	d.FP32Peak = spec(66.9e12, srcH100Sheet+": 67 TFLOP/s FP32 (132 SMs × 128 × 2 × 1.98 GHz = 66.9)")
	d.TensorPeakBF16 = spec(989.4e12, srcH100Sheet+": 1,979 TFLOP/s BF16 with sparsity, 989.4 dense")
}

// H100 is the H100 SXM5 80 GB.
func H100() Device {
	d := Device{Name: "NVIDIA H100 SXM5 80GB", Key: "h100"}
	hopperSM(&d)
	d.SMs = spec(132, srcWhitepaper+": 132 SMs on H100 SXM5")
	d.ClockHz = spec(1.98e9, srcWhitepaper+": 1.98 GHz boost for non-tensor work (the FP32 rate: 66.9 TFLOP/s = 132 × 256 × 1.98 GHz)")
	d.TensorClockHz = spec(1.83e9, srcWhitepaper+": dense tensor rates are quoted at 1.83 GHz (989.4 TFLOP/s = 132 × 4096 × 1.83 GHz); the same 1830/1980 MHz ratio is in XLA's cuda_core_info_table.cc")
	d.L2Bytes = spec(50<<20, srcWhitepaper+": 50 MB L2")
	d.DRAMBandwidth = spec(3.35e12, srcH100Sheet+": 3.35 TB/s HBM3")
	d.CopyBandwidth = derived(3.0e12, "3.35 TB/s × 0.896, the copy/peak ratio measured on the H200 here (4.3 of 4.8 TB/s, "+srcKinds+"); no H100 has been measured here")
	return d
}

// H200 is the H200 SXM 141 GB.
func H200() Device {
	d := Device{Name: "NVIDIA H200 SXM 141GB", Key: "h200"}
	hopperSM(&d)
	d.SMs = measured(132, srcKinds+": 132 multiprocessors; "+srcH200Sheet+": the H100's GH100 compute")
	d.ClockHz = measured(1.98e9, srcKinds+": nvidia-smi read an SM clock of 1980 MHz right after matrix products")
	d.TensorClockHz = spec(1.83e9, "as H100: "+srcWhitepaper+" (dense tensor rates at 1.83 GHz); "+srcH200Sheet+" gives the same 989 TFLOP/s dense BF16")
	d.L2Bytes = measured(60<<20, srcKinds+": PyTorch reported 60 MB of L2")
	d.DRAMBandwidth = spec(4.8e12, srcH200Sheet+": 4.8 TB/s HBM3e")
	d.CopyBandwidth = measured(4.3e12, srcKinds+": a device-to-device copy moved about 4.3 TB/s counting bytes read and written")
	d.TensorPeakBF16 = spec(989.4e12, srcH200Sheet+": 1,979 TFLOP/s BF16 with sparsity, 989 dense (measured here: 788 TFLOP/s for an 8192³ bf16 product through PyTorch, "+srcKinds+")")
	d.FP32Peak = spec(66.9e12, srcH200Sheet+": 67 TFLOP/s FP32")
	return d
}

// Devices lists the built-in profiles.
func Devices() []Device { return []Device{H100(), H200()} }

// DeviceByName finds a profile by its key ("h100", "h200"), case-insensitively.
func DeviceByName(name string) (Device, error) {
	var keys []string
	for _, d := range Devices() {
		if strings.EqualFold(d.Key, name) {
			return d, nil
		}
		keys = append(keys, d.Key)
	}
	sort.Strings(keys)
	return Device{}, fmt.Errorf("perf: no device profile %q (have %s)", name, strings.Join(keys, ", "))
}

// Facts lists every number of the profile with its name, for printing.
func (d Device) Facts() []Fact {
	return []Fact{
		{"SMs", d.SMs}, {"SM clock (Hz)", d.ClockHz}, {"tensor clock (Hz)", d.TensorClockHz},
		{"schedulers per SM", d.Schedulers}, {"max warps per SM", d.MaxWarpsPerSM}, {"max blocks per SM", d.MaxCTAsPerSM},
		{"registers per SM", d.RegsPerSM}, {"register allocation unit (per warp)", d.RegAllocUnit},
		{"shared memory per SM (B)", d.SharedPerSM}, {"shared memory per block (B)", d.SharedPerCTA},
		{"shared memory reserved per block (B)", d.SharedReserved}, {"L1 + shared per SM (B)", d.L1SharedBytes},
		{"f32 FMA pipe (warp instr/clk/SM)", d.FMARate}, {"IMAD pipe", d.IMADRate}, {"ALU pipe", d.ALURate},
		{"XU pipe", d.XURate}, {"FP64 pipe", d.FP64Rate}, {"LSU/MIO pipe", d.LSURate},
		{"tensor FMA per clk per SM (dense bf16)", d.TensorFMAsPerClk}, {"mma.sync share of the tensor rate", d.MmaSyncEfficiency},
		{"L1/shared wavefronts per clk per SM", d.L1WavefrontsPerClk}, {"wavefronts per shuffle", d.ShuffleWavefronts},
		{"L2 size (B)", d.L2Bytes}, {"L2 bandwidth (B/s)", d.L2Bandwidth}, {"DRAM bandwidth, peak (B/s)", d.DRAMBandwidth},
		{"DRAM copy bandwidth (B/s)", d.CopyBandwidth}, {"DRAM latency under load (s)", d.DRAMLatency}, {"L2 latency under load (s)", d.L2Latency},
		{"FP32 peak (FLOP/s)", d.FP32Peak}, {"dense bf16 tensor peak (FLOP/s)", d.TensorPeakBF16},
	}
}

// Fact is one named number of a profile.
type Fact struct {
	Name string
	Value
}

// Assumptions lists the profile's numbers that are model assumptions.
func (d Device) Assumptions() []Fact {
	var out []Fact
	for _, f := range d.Facts() {
		if f.Kind == "assumed" {
			out = append(out, f)
		}
	}
	return out
}
