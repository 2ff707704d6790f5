package ptxsim

import "strings"

// Decoders for barriers, warp collectives, atomics, tensor-core and
// asynchronous-copy instructions.

func (d *decoder) decodeBar(in *inst, base string, m mods, ops []rawOperand) error {
	if m.take(".warp") {
		if !m.take(".sync") {
			return d.errf("only bar.warp.sync is supported")
		}
		in.op = opBarWarp
		if err := d.done(m); err != nil {
			return err
		}
		if err := d.nops(ops, 1); err != nil {
			return err
		}
		var err error
		in.a, err = d.src(ops[0], tyB32)
		return err
	}
	if base == "barrier" {
		m.take(".cta")
		m.take(".aligned")
		if !m.take(".sync") {
			return d.errf("only barrier.sync is supported")
		}
	} else {
		if !m.take(".sync") && !m.take(".cta") {
			return d.errf("only bar.sync is supported")
		}
		m.take(".sync")
		m.take(".aligned")
	}
	if err := d.done(m); err != nil {
		return err
	}
	in.op = opBar
	if err := d.nops(ops, 1, 2); err != nil {
		return err
	}
	var err error
	if in.a, err = d.src(ops[0], tyU32); err != nil {
		return err
	}
	if len(ops) == 2 {
		in.b, err = d.src(ops[1], tyU32)
	}
	return err
}

func (d *decoder) decodeShfl(in *inst, m mods, ops []rawOperand) error {
	in.op = opShfl
	if !m.take(".sync") {
		return d.errf("only shfl.sync is supported")
	}
	mode, ok := m.takeFrom(map[string]uint8{".up": shflUp, ".down": shflDown, ".bfly": shflBfly, ".idx": shflIdx})
	if !ok {
		return d.errf("shfl needs .up, .down, .bfly or .idx")
	}
	in.sub = mode
	if !m.take(".b32") {
		return d.errf("shfl needs .b32")
	}
	in.t = tyB32
	if err := d.done(m); err != nil {
		return err
	}
	if err := d.nops(ops, 5); err != nil {
		return err
	}
	var err error
	if ops[0].kind == rPair {
		in.flags |= fPairDst
		if in.d, err = d.dst(ops[0].elems[0]); err != nil {
			return err
		}
		if in.d2, err = d.dst(ops[0].elems[1]); err != nil {
			return err
		}
	} else if in.d, err = d.dst(ops[0]); err != nil {
		return err
	}
	for i, s := range []*int32{&in.a, &in.b, &in.c, &in.e} {
		if *s, err = d.src(ops[i+1], tyB32); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) decodeVote(in *inst, m mods, ops []rawOperand) error {
	in.op = opVote
	if !m.take(".sync") {
		return d.errf("only vote.sync is supported")
	}
	mode, ok := m.takeFrom(map[string]uint8{".all": voteAll, ".any": voteAny, ".uni": voteUni, ".ballot": voteBallot})
	if !ok {
		return d.errf("vote needs .all, .any, .uni or .ballot")
	}
	in.sub = mode
	if mode == voteBallot {
		if !m.take(".b32") {
			return d.errf("vote.ballot needs .b32")
		}
	} else if !m.take(".pred") {
		return d.errf("vote.%s needs .pred", []string{"all", "any", "uni"}[mode])
	}
	if err := d.done(m); err != nil {
		return err
	}
	if err := d.nops(ops, 3); err != nil {
		return err
	}
	var err error
	if in.a, in.aneg, err = d.pred(ops[1]); err != nil {
		return err
	}
	if in.e, err = d.src(ops[2], tyB32); err != nil {
		return err
	}
	in.d, err = d.dst(ops[0])
	return err
}

func (d *decoder) decodeAtom(in *inst, base string, m mods, ops []rawOperand) error {
	in.op = opAtom
	m.dropHints()
	sp, _ := m.takeSpace()
	if sp != spGlobal && sp != spShared && sp != spGeneric {
		return d.errf("atomics need global or shared memory")
	}
	in.space = sp
	op, ok := m.takeFrom(map[string]uint8{".add": atomAdd, ".min": atomMin, ".max": atomMax, ".exch": atomExch,
		".cas": atomCas, ".and": atomAnd, ".or": atomOr, ".xor": atomXor, ".inc": atomInc, ".dec": atomDec})
	if !ok {
		return d.errf("unsupported atomic operation")
	}
	in.sub = op
	err := d.finalType(in, m)
	if err != nil {
		return err
	}
	t := in.t
	if t.size() < 4 || t == tyF16x2 || t == tyBF16x2 || t == tyTF32 {
		return d.errf("atomics on %v are not supported", t)
	}
	if t.isFloat() && op != atomAdd && op != atomExch {
		return d.errf("float atomics support add and exch")
	}
	n := 3
	if op == atomCas {
		n = 4
	}
	if base == "red" {
		if op == atomCas || op == atomExch {
			return d.errf("red does not support cas or exch")
		}
		in.flags |= fNoResult
		ops = append([]rawOperand{{kind: rName, name: "_"}}, ops...)
	}
	if err := d.nops(ops, n); err != nil {
		return err
	}
	if in.a, in.off, err = d.addr(ops[1], sp); err != nil {
		return err
	}
	if in.b, err = d.src(ops[2], t); err != nil {
		return err
	}
	if n == 4 {
		if in.c, err = d.src(ops[3], t); err != nil {
			return err
		}
	}
	in.d, err = d.dst(ops[0])
	return err
}

func (d *decoder) decodeMma(in *inst, m mods, ops []rawOperand) error {
	in.op = opMma
	if !m.take(".sync") || !m.take(".aligned") {
		return d.errf("mma needs .sync.aligned")
	}
	switch {
	case m.take(".m16n8k16"):
		in.sub = mmaM16N8K16
	case m.take(".m16n8k8"):
		in.sub = mmaM16N8K8
	default:
		return d.errf("unsupported mma shape")
	}
	if !m.take(".row") || !m.take(".col") {
		return d.errf("mma supports .row.col only")
	}
	ts := m.takeTypes()
	if err := d.done(m); err != nil {
		return err
	}
	if len(ts) != 4 || ts[0] != tyF32 || ts[3] != tyF32 || ts[1] != ts[2] {
		return d.errf("mma supports f32 accumulators with equal A and B types")
	}
	in.t = ts[1]
	na, nb := 4, 2
	switch {
	case in.sub == mmaM16N8K16 && (in.t == tyF16 || in.t == tyBF16):
	case in.sub == mmaM16N8K8 && in.t == tyTF32:
	default:
		return d.errf("unsupported mma shape and type combination")
	}
	if err := d.nops(ops, 4); err != nil {
		return err
	}
	var err error
	if in.vd, err = d.vecDst(ops[0], 4); err != nil {
		return err
	}
	if in.va, err = d.vecSrc(ops[1], na, tyB32); err != nil {
		return err
	}
	if in.vb, err = d.vecSrc(ops[2], nb, tyB32); err != nil {
		return err
	}
	in.vc, err = d.vecSrc(ops[3], 4, tyF32)
	return err
}

func (d *decoder) decodeLdmatrix(in *inst, m mods, ops []rawOperand) error {
	in.op = opLdmatrix
	if !m.take(".sync") || !m.take(".aligned") || !m.take(".m8n8") {
		return d.errf("ldmatrix needs .sync.aligned.m8n8")
	}
	switch {
	case m.take(".x1"):
		in.n = 1
	case m.take(".x2"):
		in.n = 2
	case m.take(".x4"):
		in.n = 4
	default:
		return d.errf("ldmatrix needs .x1, .x2 or .x4")
	}
	if m.take(".trans") {
		in.flags |= fTrans
	}
	sp, _ := m.takeSpace()
	if sp != spShared {
		return d.errf("ldmatrix reads shared memory")
	}
	in.space = sp
	if !m.take(".b16") {
		return d.errf("ldmatrix needs .b16")
	}
	if err := d.done(m); err != nil {
		return err
	}
	if err := d.nops(ops, 2); err != nil {
		return err
	}
	var err error
	if in.vd, err = d.vecDst(ops[0], int(in.n)); err != nil {
		return err
	}
	in.a, in.off, err = d.addr(ops[1], spShared)
	return err
}

func (d *decoder) decodeCp(in *inst, m mods, ops []rawOperand) error {
	if !m.take(".async") {
		return d.errf("only cp.async is supported")
	}
	switch {
	case m.take(".commit_group"):
		in.op = opCpCommit
		if err := d.done(m); err != nil {
			return err
		}
		return d.nops(ops, 0)
	case m.take(".wait_all"):
		in.op = opCpWait
		in.n = 1 // also commits the open group
		if err := d.done(m); err != nil {
			return err
		}
		return d.nops(ops, 0)
	case m.take(".wait_group"):
		in.op = opCpWait
		if err := d.done(m); err != nil {
			return err
		}
		if err := d.nops(ops, 1); err != nil {
			return err
		}
		if ops[0].kind != rNum || ops[0].neg {
			return d.errf("cp.async.wait_group needs a literal count")
		}
		n, err := parseInt(ops[0].name)
		if err != nil || n < 0 || n > 64 {
			return d.errf("bad group count")
		}
		in.off = n
		return nil
	}
	in.op = opCpAsync
	cg := m.take(".cg")
	if !cg && !m.take(".ca") {
		return d.errf("cp.async needs .ca or .cg")
	}
	if cg {
		in.flags |= fNoL1
	}
	if !m.take(".shared") && !m.take(".shared::cta") {
		return d.errf("cp.async copies to .shared")
	}
	if !m.take(".global") {
		return d.errf("cp.async copies from .global")
	}
	var rest mods
	for _, x := range m {
		if !strings.HasPrefix(x, ".L2::") {
			rest = append(rest, x)
		}
	}
	if err := d.done(rest); err != nil {
		return err
	}
	if err := d.nops(ops, 3, 4); err != nil {
		return err
	}
	if ops[2].kind != rNum {
		return d.errf("cp.async needs a literal size")
	}
	n, err := parseInt(ops[2].name)
	if err != nil || (n != 4 && n != 8 && n != 16) || cg && n != 16 {
		return d.errf("cp.async size must be 4, 8 or 16 (16 with .cg)")
	}
	in.n = uint8(n)
	if in.d, in.off, err = d.addr(ops[0], spShared); err != nil {
		return err
	}
	if in.a, in.off2, err = d.addr(ops[1], spGlobal); err != nil {
		return err
	}
	if len(ops) == 4 {
		in.flags |= fZfill
		in.b, err = d.src(ops[3], tyU32)
	}
	return err
}
