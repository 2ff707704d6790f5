package ptxsim

// opcode identifies a decoded instruction family.
type opcode uint8

const (
	opNop opcode = iota
	opLd
	opSt
	opMov
	opPack   // mov.bN d, {a, b, ...}
	opUnpack // mov.bN {a, b, ...}, s
	opCvta
	opAdd
	opSub
	opMul
	opMad
	opFma
	opDiv
	opRem
	opNeg
	opAbs
	opMin
	opMax
	opRcp
	opSqrt
	opRsqrt
	opEx2
	opLg2
	opAnd
	opOr
	opXor
	opNot
	opShl
	opShr
	opBfe
	opBfi
	opPrmt
	opLop3
	opPopc
	opClz
	opBrev
	opSetp
	opSelp
	opCvt
	opCvtPack // cvt.rn.{f16x2,bf16x2}.f32 d, hi, lo
	opBra
	opExit
	opBar
	opBarWarp
	opShfl
	opVote
	opAtom
	opMma
	opLdmatrix
	opCpAsync
	opCpCommit
	opCpWait
	opProxyFence  // fence.proxy.async
	opMbarInit    // mbarrier.init
	opMbarArrive  // mbarrier.arrive[.expect_tx]
	opMbarTryWait // mbarrier.try_wait.parity
	opTensorLoad  // cp.async.bulk.tensor.2d ... mbarrier::complete_tx::bytes
	opWgFence     // wgmma.fence
	opWgCommit    // wgmma.commit_group
	opWgWait      // wgmma.wait_group
	opWgmma       // wgmma.mma_async
)

// isGroupOp reports whether op is a warpgroup collective (four warps).
func (op opcode) isGroupOp() bool { return op >= opWgFence && op <= opWgmma }

// space is a state space.
type space uint8

const (
	spGeneric space = iota
	spGlobal
	spShared
	spParam
	spConst
)

func (s space) String() string {
	return [...]string{"generic", "global", "shared", "param", "const"}[s]
}

// instruction flags
const (
	fSat uint16 = 1 << iota
	fFtz
	fWide
	fHi
	fTrans
	fToSpace  // cvta.to.<space>: generic to space; otherwise space to generic
	fNoResult // red: atom without a destination
	fPairDst  // setp/shfl write a second predicate d2
	fHasC     // setp with a combining predicate c
	fZfill    // cp.async with a source-size operand
	fApprox
	fNoL1     // a global access that does not allocate in L1 (.cg, .cv, .L1::no_allocate)
	fExpectTx // mbarrier.arrive.expect_tx
)

// comparison operators for setp
const (
	cmpEQ uint8 = iota
	cmpNE
	cmpLT
	cmpLE
	cmpGT
	cmpGE
	cmpLO
	cmpLS
	cmpHI
	cmpHS
	cmpEQU
	cmpNEU
	cmpLTU
	cmpLEU
	cmpGTU
	cmpGEU
	cmpNUM
	cmpNAN
)

var cmpNames = map[string]uint8{
	".eq": cmpEQ, ".ne": cmpNE, ".lt": cmpLT, ".le": cmpLE, ".gt": cmpGT, ".ge": cmpGE,
	".lo": cmpLO, ".ls": cmpLS, ".hi": cmpHI, ".hs": cmpHS,
	".equ": cmpEQU, ".neu": cmpNEU, ".ltu": cmpLTU, ".leu": cmpLEU, ".gtu": cmpGTU, ".geu": cmpGEU,
	".num": cmpNUM, ".nan": cmpNAN,
}

// boolean combiners (setp) and atomic operations share small enums.
const (
	boolAnd uint8 = iota + 1
	boolOr
	boolXor
)

const (
	atomAdd uint8 = iota
	atomMin
	atomMax
	atomExch
	atomCas
	atomAnd
	atomOr
	atomXor
	atomInc
	atomDec
)

const (
	shflUp uint8 = iota
	shflDown
	shflBfly
	shflIdx
)

const (
	voteAll uint8 = iota
	voteAny
	voteUni
	voteBallot
)

const (
	mmaM16N8K16 uint8 = iota
	mmaM16N8K8
)

// inst is one decoded instruction. Every source operand is a register slot:
// literals, special registers and variable addresses live in slots that are
// filled before a thread starts, so execution never inspects operand kinds.
type inst struct {
	op     opcode
	t, t2  ptype
	space  space
	rnd    rmode
	flags  uint16
	sub    uint8 // comparison, shuffle mode, vote mode, atomic op, mma shape
	bop    uint8 // setp combiner
	n      uint8 // vector width, ldmatrix matrices, cp.async bytes
	gneg   bool
	aneg   bool
	cneg   bool
	guard  int32 // predicate slot, -1 for none
	d, d2  int32
	a, b   int32
	c, e   int32
	off    int64 // address offset of the memory operand (a for loads, d for stores)
	off2   int64 // second address offset (cp.async source)
	vd, va []int32
	vb, vc []int32
	target int32
	line   int32
	text   string
}
