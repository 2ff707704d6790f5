package sass

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Pipe is the unit that executes an instruction once the scheduler issued
// it. The classes follow Nsight Compute's pipeline names for sm_80/sm_90
// (Kernel Profiling Guide, "Pipelines"): alu, fma (fmaheavy for the integer
// multiply-adds), xu, lsu/mio, tensor, uniform and the branch/barrier
// units.
type Pipe int

// Pipes.
const (
	PipeALU     Pipe = iota // integer add/logic/shift/compare, moves, selects, fast f32→f16/bf16 packing (F2FP)
	PipeFMA                 // f32 and packed f16 add/mul/fma
	PipeIMAD                // integer multiply-add and its move/shift aliases (IMAD.MOV, IMAD.SHL, …): fmaheavy only
	PipeXU                  // transcendentals (MUFU), int↔float conversions, popc/flo/brev
	PipeFP64                // double precision
	PipeLSU                 // everything sent to the memory pipe (MIO): loads, stores, cp.async, ldmatrix, atomics, shuffles, S2R, LDC
	PipeTensor              // HMMA, IMMA, HGMMA, …
	PipeUniform             // the uniform datapath (U* instructions, R2UR, S2UR)
	PipeControl             // branches, exits, convergence and scoreboard barriers, NOP: an issue slot only
	PipeBarrier             // BAR, SYNCS, ARRIVES: CTA barriers
	NumPipes
)

var pipeNames = [...]string{"alu", "fma", "imad", "xu", "fp64", "lsu", "tensor", "uniform", "control", "barrier"}

func (p Pipe) String() string {
	if p >= 0 && int(p) < len(pipeNames) {
		return pipeNames[p]
	}
	return "pipe?"
}

var pipeOf = map[string]Pipe{
	// fma
	"FFMA": PipeFMA, "FADD": PipeFMA, "FMUL": PipeFMA, "FFMA32I": PipeFMA, "FADD32I": PipeFMA, "FMUL32I": PipeFMA,
	"HFMA2": PipeFMA, "HADD2": PipeFMA, "HMUL2": PipeFMA, "HFMA2_32I": PipeFMA, "FSWZADD": PipeFMA,
	// imad (fmaheavy)
	"IMAD": PipeIMAD, "IMUL": PipeIMAD, "IDP": PipeIMAD, "IDP4A": PipeIMAD, "IMAD32I": PipeIMAD, "IMUL32I": PipeIMAD,
	// alu
	"IADD3": PipeALU, "IADD": PipeALU, "IADD32I": PipeALU, "VIADD": PipeALU, "VIADDMNMX": PipeALU, "LEA": PipeALU,
	"LOP3": PipeALU, "LOP": PipeALU, "LOP32I": PipeALU, "SHF": PipeALU, "SHL": PipeALU, "SHR": PipeALU, "SGXT": PipeALU,
	"PRMT": PipeALU, "BMSK": PipeALU, "ISETP": PipeALU, "FSETP": PipeALU, "HSETP2": PipeALU, "DSETP": PipeALU,
	"SEL": PipeALU, "FSEL": PipeALU, "IMNMX": PipeALU, "VIMNMX": PipeALU, "VIMNMX3": PipeALU, "FMNMX": PipeALU, "HMNMX2": PipeALU,
	"IABS": PipeALU, "MOV": PipeALU, "MOV32I": PipeALU, "CS2R": PipeALU, "P2R": PipeALU, "R2P": PipeALU, "PLOP3": PipeALU,
	"F2FP": PipeALU, "FCHK": PipeALU, "ISCADD": PipeALU, "IADD3X": PipeALU, "VABSDIFF": PipeALU, "VABSDIFF4": PipeALU,
	"VOTE": PipeALU, "VOTEU": PipeALU,
	// xu
	"MUFU": PipeXU, "I2F": PipeXU, "F2I": PipeXU, "F2F": PipeXU, "I2I": PipeXU, "FRND": PipeXU, "I2FP": PipeXU, "F2IP": PipeXU,
	"POPC": PipeXU, "FLO": PipeXU, "BREV": PipeXU,
	// fp64
	"DFMA": PipeFP64, "DADD": PipeFP64, "DMUL": PipeFP64,
	// lsu / mio
	"LDG": PipeLSU, "STG": PipeLSU, "LDS": PipeLSU, "STS": PipeLSU, "LD": PipeLSU, "ST": PipeLSU, "LDL": PipeLSU, "STL": PipeLSU,
	"LDSM": PipeLSU, "STSM": PipeLSU, "LDGSTS": PipeLSU, "LDGDEPBAR": PipeLSU, "ATOM": PipeLSU, "ATOMS": PipeLSU, "ATOMG": PipeLSU,
	"RED": PipeLSU, "REDG": PipeLSU, "SHFL": PipeLSU, "S2R": PipeLSU, "LDC": PipeLSU, "MATCH": PipeLSU, "MEMBAR": PipeLSU,
	"UBLKCP": PipeLSU, "UTMALDG": PipeLSU, "UTMASTG": PipeLSU, "UTMAPF": PipeLSU, "UTMACMDFLUSH": PipeLSU, "CCTL": PipeLSU,
	"FENCE": PipeLSU, "ERRBAR": PipeLSU, "QSPC": PipeLSU,
	// tensor
	"HMMA": PipeTensor, "IMMA": PipeTensor, "DMMA": PipeTensor, "BMMA": PipeTensor, "HGMMA": PipeTensor, "IGMMA": PipeTensor,
	"QGMMA": PipeTensor, "BGMMA": PipeTensor, "WARPGROUP": PipeControl,
	// uniform
	"R2UR": PipeUniform, "S2UR": PipeUniform, "REDUX": PipeUniform, "ELECT": PipeUniform,
	// control
	"BRA": PipeControl, "BRX": PipeControl, "JMP": PipeControl, "EXIT": PipeControl, "RET": PipeControl, "CALL": PipeControl,
	"BSSY": PipeControl, "BSYNC": PipeControl, "WARPSYNC": PipeControl, "NOP": PipeControl, "YIELD": PipeControl,
	"DEPBAR": PipeControl, "BPT": PipeControl, "KILL": PipeControl, "BREAK": PipeControl, "NANOSLEEP": PipeControl,
	"ACQBULK": PipeControl, "WARPGROUPSET": PipeControl, "SETMAXREG": PipeControl, "USETMAXREG": PipeControl,
	// barriers
	"BAR": PipeBarrier, "SYNCS": PipeBarrier, "ARRIVES": PipeBarrier, "B2R": PipeBarrier, "R2B": PipeBarrier,
}

// PipeOf classifies an instruction. Uniform-datapath instructions (ULDC,
// UIADD3, …) are PipeUniform; an opcode the table does not know counts as
// ALU, the pipe most simple instructions use.
func PipeOf(in Instr) Pipe {
	base := in.Base()
	if p, ok := pipeOf[base]; ok {
		return p
	}
	if strings.HasPrefix(base, "U") && len(base) > 1 {
		return PipeUniform
	}
	return PipeALU
}

// Known reports whether the opcode is in the classification table.
func Known(in Instr) bool {
	base := in.Base()
	_, ok := pipeOf[base]
	return ok || strings.HasPrefix(base, "U")
}

// Mix counts instructions per pipe and per opcode.
type Mix struct {
	Total  int
	ByPipe [NumPipes]int
	ByOp   map[string]int
	// TensorFMAs are the multiply-adds the tensor instructions perform
	// (per warp-level instruction: HMMA.16816 is 16·8·16 = 2048).
	TensorFMAs int64
	Unknown    []string // opcodes counted as ALU because the table lacks them
}

// Count tallies instrs.
func Count(instrs []Instr) Mix {
	m := Mix{ByOp: map[string]int{}}
	unknown := map[string]bool{}
	for _, in := range instrs {
		p := PipeOf(in)
		m.Total++
		m.ByPipe[p]++
		m.ByOp[in.Op]++
		if p == PipeTensor {
			m.TensorFMAs += TensorFMAs(in)
		}
		if !Known(in) && !unknown[in.Base()] {
			unknown[in.Base()] = true
			m.Unknown = append(m.Unknown, in.Base())
		}
	}
	sort.Strings(m.Unknown)
	return m
}

// Opcodes lists the mix's opcodes by descending count, then name.
func (m Mix) Opcodes() []string {
	keys := make([]string, 0, len(m.ByOp))
	for k := range m.ByOp {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m.ByOp[keys[i]] != m.ByOp[keys[j]] {
			return m.ByOp[keys[i]] > m.ByOp[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

var reGMMA = regexp.MustCompile(`^[HIQB]GMMA\.(\d+)x(\d+)x(\d+)`) // HGMMA.64x128x16

// TensorFMAs is the number of multiply-adds one warp-level issue of a tensor
// instruction performs. A warpgroup MMA (HGMMA m64nNk16) is issued by each
// of the 4 warps of its warpgroup, so each issue counts a quarter of it.
func TensorFMAs(in Instr) int64 {
	if m := reGMMA.FindStringSubmatch(in.Op); m != nil {
		a, _ := strconv.Atoi(m[1])
		b, _ := strconv.Atoi(m[2])
		c, _ := strconv.Atoi(m[3])
		return int64(a) * int64(b) * int64(c) / 4
	}
	switch in.Base() {
	case "HMMA", "IMMA", "DMMA", "BMMA":
		return mmaShape(in.Op)
	}
	return 0
}

// mmaShape decodes the m·n·k of mma.sync's SASS names: HMMA.16816 (m16n8k16),
// HMMA.1688 (m16n8k8), HMMA.884 (m8n8k4), IMMA.16832 (m16n8k32), DMMA.884.
func mmaShape(op string) int64 {
	_, rest, _ := strings.Cut(op, ".")
	shape, _, _ := strings.Cut(rest, ".")
	switch shape {
	case "16816":
		return 16 * 8 * 16
	case "1688":
		return 16 * 8 * 8
	case "16832":
		return 16 * 8 * 32
	case "884":
		return 8 * 8 * 4
	case "8816":
		return 8 * 8 * 16
	case "8832":
		return 8 * 8 * 32
	}
	return 0
}
