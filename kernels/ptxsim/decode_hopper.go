package ptxsim

import (
	"fmt"
	"strings"
)

// Decoders for the sm_90a instructions: mbarrier, tensor copies and wgmma.

func (d *decoder) decodeMbarrier(in *inst, m mods, ops []rawOperand) error {
	kind := ""
	for _, k := range []string{".init", ".arrive", ".try_wait"} {
		if m.take(k) {
			kind = k
			break
		}
	}
	if kind == "" {
		return d.errf("only mbarrier.init, mbarrier.arrive and mbarrier.try_wait.parity are supported")
	}
	if kind == ".arrive" && m.take(".expect_tx") {
		in.flags |= fExpectTx
	}
	if kind == ".try_wait" && !m.take(".parity") {
		return d.errf("only mbarrier.try_wait.parity is supported")
	}
	m.dropHints()
	m.take(".cluster")
	if sp, ok := m.takeSpace(); !ok || sp != spShared {
		return d.errf("mbarrier needs .shared::cta")
	}
	if !m.take(".b64") {
		return d.errf("mbarrier needs .b64")
	}
	if err := d.done(m); err != nil {
		return err
	}
	var err error
	switch kind {
	case ".init":
		in.op = opMbarInit
		if err := d.nops(ops, 2); err != nil {
			return err
		}
		if in.a, in.off, err = d.addr(ops[0], spShared); err != nil {
			return err
		}
		in.b, err = d.src(ops[1], tyU32)
	case ".arrive":
		in.op = opMbarArrive
		n := 2
		if in.flags&fExpectTx != 0 {
			n = 3
		}
		if err := d.nops(ops, n); err != nil {
			return err
		}
		if in.d, err = d.dst(ops[0]); err != nil {
			return err
		}
		if in.a, in.off, err = d.addr(ops[1], spShared); err != nil {
			return err
		}
		if n == 3 {
			in.b, err = d.src(ops[2], tyU32)
		}
	default:
		in.op = opMbarTryWait
		if err := d.nops(ops, 3, 4); err != nil {
			return err
		}
		if in.d, err = d.dst(ops[0]); err != nil {
			return err
		}
		if in.a, in.off, err = d.addr(ops[1], spShared); err != nil {
			return err
		}
		in.b, err = d.src(ops[2], tyU32)
	}
	return err
}

func (d *decoder) decodeBulkTensor(in *inst, m mods, ops []rawOperand) error {
	for _, want := range []string{".async", ".bulk", ".tensor", ".2d"} {
		if !m.take(want) {
			return d.errf("only cp.async.bulk.tensor.2d is supported (missing %s)", want)
		}
	}
	if !m.take(".shared::cluster") {
		return d.errf("cp.async.bulk.tensor copies to .shared::cluster")
	}
	if !m.take(".global") {
		return d.errf("cp.async.bulk.tensor copies from .global")
	}
	m.take(".tile")
	if !m.take(".mbarrier::complete_tx::bytes") {
		return d.errf("cp.async.bulk.tensor needs .mbarrier::complete_tx::bytes")
	}
	if err := d.done(m); err != nil {
		return err
	}
	if err := d.nops(ops, 3); err != nil {
		return err
	}
	in.op = opTensorLoad
	var err error
	if in.d, in.off, err = d.addr(ops[0], spShared); err != nil {
		return err
	}
	src := ops[1]
	if src.kind != rAddr || len(src.elems) != 2 || src.off != 0 {
		return d.errf("expected [tensorMap, {c0, c1}]")
	}
	if in.a, err = d.src(rawOperand{kind: rName, name: src.name}, tyU64); err != nil {
		return err
	}
	if in.va, err = d.vecSrc(rawOperand{kind: rVec, elems: src.elems}, 2, tyS32); err != nil {
		return err
	}
	in.b, in.off2, err = d.addr(ops[2], spShared)
	return err
}

func (d *decoder) decodeWgmma(in *inst, m mods, ops []rawOperand) error {
	switch {
	case m.take(".fence"):
		in.op = opWgFence
	case m.take(".commit_group"):
		in.op = opWgCommit
	case m.take(".wait_group"):
		in.op = opWgWait
	case m.take(".mma_async"):
		in.op = opWgmma
	default:
		return d.errf("unsupported wgmma form")
	}
	if !m.take(".sync") || !m.take(".aligned") {
		return d.errf("wgmma needs .sync.aligned")
	}
	switch in.op {
	case opWgFence, opWgCommit:
		if err := d.done(m); err != nil {
			return err
		}
		return d.nops(ops, 0)
	case opWgWait:
		if err := d.done(m); err != nil {
			return err
		}
		if err := d.nops(ops, 1); err != nil {
			return err
		}
		n, err := parseInt(ops[0].name)
		if ops[0].kind != rNum || err != nil || n < 0 || n > 7 {
			return d.errf("wgmma.wait_group needs a literal count 0..7")
		}
		in.off = n
		return nil
	}
	shape := ""
	for _, x := range m {
		if strings.HasPrefix(x, ".m64n") {
			shape = x
		}
	}
	var n, k int
	if _, err := fmt.Sscanf(shape, ".m64n%dk%d", &n, &k); err != nil || k != 16 || n < 8 || n > 256 || n%8 != 0 {
		return d.errf("wgmma shape %q: only m64nNk16 (N a multiple of 8 up to 256) is supported", shape)
	}
	m.take(shape)
	ts := m.takeTypes()
	if len(ts) != 3 || ts[0] != tyF32 || ts[1] != ts[2] || (ts[1] != tyBF16 && ts[1] != tyF16) {
		return d.errf("wgmma: only .f32.bf16.bf16 and .f32.f16.f16 are supported")
	}
	in.t = ts[1]
	if err := d.done(m); err != nil {
		return err
	}
	if err := d.nops(ops, 8); err != nil {
		return err
	}
	in.n = uint8(n / 8)
	var err error
	if in.vd, err = d.vecDst(ops[0], n/2); err != nil {
		return err
	}
	if in.a, err = d.src(ops[1], tyB64); err != nil {
		return err
	}
	if in.b, err = d.src(ops[2], tyB64); err != nil {
		return err
	}
	if ops[3].kind == rNum {
		in.c, err = d.src(ops[3], tyPred)
	} else {
		in.c, in.cneg, err = d.pred(ops[3])
	}
	if err != nil {
		return err
	}
	imm := func(o rawOperand, ok ...int64) (int64, error) {
		v, err := parseInt(o.name)
		if o.neg {
			v = -v
		}
		if o.kind == rNum && err == nil {
			for _, w := range ok {
				if v == w {
					return v, nil
				}
			}
		}
		return 0, d.errf("wgmma: immediate %q is not one of %v", o.name, ok)
	}
	if in.off, err = imm(ops[4], 1, -1); err != nil {
		return err
	}
	if in.off2, err = imm(ops[5], 1, -1); err != nil {
		return err
	}
	for _, o := range ops[6:] {
		if _, err := imm(o, 0); err != nil {
			return d.errf("wgmma: only K-major operands (transpose 0) are supported")
		}
	}
	return nil
}
