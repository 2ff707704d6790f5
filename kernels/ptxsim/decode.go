package ptxsim

import (
	"strings"
)

// mods is the dotted modifier list of an opcode; decoders take what they
// understand and anything left over is an error.
type mods []string

func (m *mods) take(s string) bool {
	for i, x := range *m {
		if x == s {
			*m = append((*m)[:i:i], (*m)[i+1:]...)
			return true
		}
	}
	return false
}

func (m *mods) takeFrom(set map[string]uint8) (uint8, bool) {
	for i, x := range *m {
		if v, ok := set[x]; ok {
			*m = append((*m)[:i:i], (*m)[i+1:]...)
			return v, true
		}
	}
	return 0, false
}

func (m *mods) takeRound() rmode {
	for i, x := range *m {
		if v, ok := roundNames[x]; ok {
			*m = append((*m)[:i:i], (*m)[i+1:]...)
			return v
		}
	}
	return rmNone
}

func (m *mods) takeTypes() []ptype {
	var ts []ptype
	var rest mods
	for _, x := range *m {
		if t, ok := typeNames[x]; ok {
			ts = append(ts, t)
		} else {
			rest = append(rest, x)
		}
	}
	*m = rest
	return ts
}

func (m *mods) takeSpace() (space, bool) {
	for i, x := range *m {
		var s space
		switch x {
		case ".global":
			s = spGlobal
		case ".shared", ".shared::cta":
			s = spShared
		case ".param", ".param::entry":
			s = spParam
		case ".const":
			s = spConst
		default:
			continue
		}
		*m = append((*m)[:i:i], (*m)[i+1:]...)
		return s, true
	}
	return spGeneric, false
}

// dropHints removes modifiers without functional effect in a sequentially
// consistent, cache-free simulator: cache operators, eviction hints and
// memory-ordering qualifiers.
func (m *mods) dropHints() {
	var rest mods
	for _, x := range *m {
		switch x {
		case ".volatile", ".relaxed", ".acquire", ".release", ".acq_rel", ".weak",
			".gpu", ".cta", ".sys", ".ca", ".cg", ".cs", ".lu", ".cv", ".wb", ".wt":
			continue
		}
		if strings.HasPrefix(x, ".L1::") || strings.HasPrefix(x, ".L2::") {
			continue
		}
		rest = append(rest, x)
	}
	*m = rest
}

func (d *decoder) done(m mods) error {
	if len(m) > 0 {
		return d.errf("unsupported modifier %s", strings.Join(m, ""))
	}
	return nil
}

// finalType sets in's one type, the last of its modifiers m: any
// modifier left after it is an error.
func (d *decoder) finalType(in *inst, m mods) error {
	t, err := oneType(d, m.takeTypes())
	if err != nil {
		return err
	}
	in.t = t
	return d.done(m)
}

func (d *decoder) nops(ops []rawOperand, n ...int) error {
	for _, k := range n {
		if len(ops) == k {
			return nil
		}
	}
	return d.errf("wrong number of operands (%d)", len(ops))
}

func oneType(d *decoder, ts []ptype) (ptype, error) {
	if len(ts) != 1 {
		return 0, d.errf("expected exactly one type")
	}
	return ts[0], nil
}

func (d *decoder) decode(ri *rawInst) (inst, error) {
	in := inst{guard: -1, d: -1, d2: -1, a: -1, b: -1, c: -1, e: -1, line: int32(ri.line), text: ri.text}
	if ri.guard != "" {
		g, _, err := d.pred(rawOperand{kind: rName, name: ri.guard})
		if err != nil {
			return in, err
		}
		in.guard, in.gneg = g, ri.guardNeg
	}
	parts := strings.Split(ri.opcode, ".")
	base := parts[0]
	var m mods
	for _, p := range parts[1:] {
		m = append(m, "."+p)
	}
	ops := ri.ops
	var err error
	switch base {
	case "ld", "st":
		err = d.decodeLdSt(&in, base, m, ops)
	case "mov":
		err = d.decodeMov(&in, m, ops)
	case "cvta":
		err = d.decodeCvta(&in, m, ops)
	case "add", "sub", "mul", "mad", "fma", "div", "rem", "min", "max":
		err = d.decodeArith(&in, base, m, ops)
	case "neg", "abs", "not", "popc", "clz", "brev", "rcp", "sqrt", "rsqrt", "ex2", "lg2":
		err = d.decodeUnary(&in, base, m, ops)
	case "and", "or", "xor", "shl", "shr":
		err = d.decodeLogic(&in, base, m, ops)
	case "bfe", "bfi", "prmt", "lop3":
		err = d.decodeBits(&in, base, m, ops)
	case "setp":
		err = d.decodeSetp(&in, m, ops)
	case "selp":
		err = d.decodeSelp(&in, m, ops)
	case "cvt":
		err = d.decodeCvt(&in, m, ops)
	case "bra":
		m.take(".uni")
		if err = d.done(m); err == nil {
			if err = d.nops(ops, 1); err == nil {
				in.op = opBra
				in.target, err = d.label(ops[0])
			}
		}
	case "ret", "exit":
		in.op = opExit
		if err = d.done(m); err == nil {
			err = d.nops(ops, 0)
		}
	case "membar", "fence":
		// Execution is sequentially consistent, so fences order nothing new,
		// except that a proxy fence is recorded: wgmma reads only shared
		// bytes written before the writer's fence.proxy.async.
		if len(m) >= 2 && m[0] == ".proxy" && m[1] == ".async" {
			in.op = opProxyFence
			m = m[2:]
			m.takeSpace()
			m.take(".shared::cluster")
			m.take(".global")
			err = d.done(m)
			break
		}
		if m.take(".mbarrier_init") {
			// Barrier initialisation is immediately visible to the copies.
			m.take(".cluster")
		}
		m.dropHints()
		m.take(".gl")
		m.take(".sc")
		m.take(".proxy")
		m.take(".async")
		in.op = opNop
		err = d.done(m)
	case "bar", "barrier":
		err = d.decodeBar(&in, base, m, ops)
	case "shfl":
		err = d.decodeShfl(&in, m, ops)
	case "vote":
		err = d.decodeVote(&in, m, ops)
	case "atom", "red":
		err = d.decodeAtom(&in, base, m, ops)
	case "mma":
		err = d.decodeMma(&in, m, ops)
	case "ldmatrix":
		err = d.decodeLdmatrix(&in, m, ops)
	case "cp":
		if len(m) > 1 && m[1] == ".bulk" {
			err = d.decodeBulkTensor(&in, m, ops)
		} else {
			err = d.decodeCp(&in, m, ops)
		}
	case "mbarrier":
		err = d.decodeMbarrier(&in, m, ops)
	case "wgmma":
		err = d.decodeWgmma(&in, m, ops)
	default:
		err = d.errf("unsupported instruction %s", ri.opcode)
	}
	return in, err
}

func (d *decoder) decodeLdSt(in *inst, base string, m mods, ops []rawOperand) error {
	for _, x := range m {
		if x == ".cg" || x == ".cv" || x == ".L1::no_allocate" {
			in.flags |= fNoL1
		}
	}
	m.dropHints()
	in.space, _ = m.takeSpace()
	if m.take(".nc") && (base != "ld" || in.space != spGlobal) {
		return d.errf(".nc is only valid on ld.global")
	}
	in.n = 1
	for _, v := range []uint8{2, 4} {
		if m.take(".v" + string(rune('0'+v))) {
			in.n = v
		}
	}
	t, err := oneType(d, m.takeTypes())
	if err != nil {
		return err
	}
	if t == tyPred || t == tyF16x2 || t == tyBF16x2 || t == tyTF32 {
		return d.errf("unsupported memory type %v", t)
	}
	in.t = t
	if err := d.done(m); err != nil {
		return err
	}
	if err := d.nops(ops, 2); err != nil {
		return err
	}
	if in.space == spParam && in.n != 1 {
		return d.errf("vector param loads are not supported")
	}
	if in.space == spConst && base == "st" || in.space == spParam && base == "st" {
		return d.errf("cannot store to %v space", in.space)
	}
	if base == "ld" {
		in.op = opLd
		in.a, in.off, err = d.addr(ops[1], in.space)
		if err != nil {
			return err
		}
		if in.n == 1 {
			in.d, err = d.dst(ops[0])
		} else {
			in.vd, err = d.vecDst(ops[0], int(in.n))
		}
		return err
	}
	in.op = opSt
	in.d, in.off, err = d.addr(ops[0], in.space)
	if err != nil {
		return err
	}
	if in.n == 1 {
		in.a, err = d.src(ops[1], t)
	} else {
		in.va, err = d.vecSrc(ops[1], int(in.n), t)
	}
	return err
}

func (d *decoder) decodeMov(in *inst, m mods, ops []rawOperand) error {
	err := d.finalType(in, m)
	if err != nil {
		return err
	}
	t := in.t
	if err := d.nops(ops, 2); err != nil {
		return err
	}
	switch {
	case ops[0].kind == rVec:
		in.op = opUnpack
		n := len(ops[0].elems)
		if n != 2 && n != 4 || t.size()%n != 0 {
			return d.errf("bad unpack width")
		}
		in.vd, err = d.vecDst(ops[0], n)
		if err == nil {
			in.a, err = d.src(ops[1], t)
		}
	case ops[1].kind == rVec:
		in.op = opPack
		n := len(ops[1].elems)
		if n != 2 && n != 4 || t.size()%n != 0 {
			return d.errf("bad pack width")
		}
		in.d, err = d.dst(ops[0])
		if err == nil {
			et := map[int]ptype{1: tyB8, 2: tyB16, 4: tyB32}[t.size()/n]
			in.va, err = d.vecSrc(ops[1], n, et)
		}
	default:
		in.op = opMov
		if t == tyPred {
			in.a, in.aneg, err = d.pred(ops[1])
			if err == nil && in.aneg {
				err = d.errf("'!' is not allowed in mov")
			}
		} else {
			in.a, err = d.src(ops[1], t)
		}
		if err == nil {
			in.d, err = d.dst(ops[0])
		}
	}
	return err
}

func (d *decoder) decodeCvta(in *inst, m mods, ops []rawOperand) error {
	in.op = opCvta
	if m.take(".to") {
		in.flags |= fToSpace
	}
	sp, ok := m.takeSpace()
	if !ok || (sp != spGlobal && sp != spShared) {
		return d.errf("cvta supports .global and .shared")
	}
	in.space = sp
	t, err := oneType(d, m.takeTypes())
	if err != nil {
		return err
	}
	if t != tyU64 && t != tyU32 {
		return d.errf("cvta needs .u32 or .u64")
	}
	in.t = t
	if err := d.done(m); err != nil {
		return err
	}
	if err := d.nops(ops, 2); err != nil {
		return err
	}
	if in.d, err = d.dst(ops[0]); err != nil {
		return err
	}
	in.a, err = d.src(ops[1], t)
	return err
}
