package ptxsim

// Decoders for the arithmetic, logic, comparison and conversion families.

func (d *decoder) decodeArith(in *inst, base string, m mods, ops []rawOperand) error {
	in.op = map[string]opcode{"add": opAdd, "sub": opSub, "mul": opMul, "mad": opMad, "fma": opFma,
		"div": opDiv, "rem": opRem, "min": opMin, "max": opMax}[base]
	in.rnd = m.takeRound()
	if m.take(".sat") {
		in.flags |= fSat
	}
	if m.take(".ftz") {
		in.flags |= fFtz
	}
	if m.take(".approx") || m.take(".full") {
		in.flags |= fApprox
	}
	wide, hi, lo := m.take(".wide"), m.take(".hi"), m.take(".lo")
	err := d.finalType(in, m)
	if err != nil {
		return err
	}
	t := in.t
	if t == tyPred || t == tyF16 || t == tyBF16 || t == tyF16x2 || t == tyBF16x2 || t == tyTF32 {
		return d.errf("%s on %v is not supported", base, t)
	}
	if t.isFloat() {
		if wide || hi || lo {
			return d.errf(".wide/.hi/.lo need an integer type")
		}
		if in.op == opRem {
			return d.errf("rem needs an integer type")
		}
		if in.op == opFma && in.rnd == rmNone {
			return d.errf("fma needs a rounding modifier")
		}
		if in.rnd > rmRP {
			return d.errf("bad rounding modifier for %s", base)
		}
		if in.op == opDiv && t == tyF32 && in.rnd == rmNone && in.flags&fApprox == 0 {
			return d.errf("div.f32 needs .approx, .full or a rounding modifier")
		}
		directed := in.rnd >= rmRZ && in.rnd <= rmRP
		if directed && (t == tyF64 || in.op == opDiv || in.op == opMin || in.op == opMax) {
			return d.errf("rounding %s is not supported for %s%v", []string{"", "", ".rz", ".rm", ".rp"}[in.rnd], base, t)
		}
		if in.flags&fSat != 0 && t != tyF32 {
			return d.errf(".sat needs .f32")
		}
	} else {
		if in.rnd != rmNone || in.flags&(fFtz|fApprox) != 0 || in.op == opFma {
			return d.errf("float modifiers on an integer %s", base)
		}
		if in.flags&fSat != 0 && !(t == tyS32 && (in.op == opAdd || in.op == opSub)) {
			return d.errf(".sat is supported on add/sub.s32 only")
		}
		switch in.op {
		case opMul, opMad:
			switch {
			case wide:
				if t.size() > 4 {
					return d.errf(".wide needs a 16- or 32-bit type")
				}
				in.flags |= fWide
			case hi:
				in.flags |= fHi
			case lo:
			default:
				return d.errf("%s on integers needs .lo, .hi or .wide", base)
			}
		default:
			if wide || hi || lo {
				return d.errf(".wide/.hi/.lo are only valid on mul and mad")
			}
		}
	}
	n := 3
	if in.op == opMad || in.op == opFma {
		n = 4
	}
	if err := d.nops(ops, n); err != nil {
		return err
	}
	st := t
	if in.flags&fWide != 0 && in.op == opMad {
		// the addend has the wide type
		st = wideType(t)
	}
	if in.a, err = d.src(ops[1], t); err != nil {
		return err
	}
	if in.b, err = d.src(ops[2], t); err != nil {
		return err
	}
	if n == 4 {
		if in.c, err = d.src(ops[3], st); err != nil {
			return err
		}
	}
	in.d, err = d.dst(ops[0])
	return err
}

func wideType(t ptype) ptype {
	switch t {
	case tyU16:
		return tyU32
	case tyS16:
		return tyS32
	case tyU32:
		return tyU64
	case tyS32:
		return tyS64
	}
	return t
}

func (d *decoder) decodeUnary(in *inst, base string, m mods, ops []rawOperand) error {
	in.op = map[string]opcode{"neg": opNeg, "abs": opAbs, "not": opNot, "popc": opPopc, "clz": opClz,
		"brev": opBrev, "rcp": opRcp, "sqrt": opSqrt, "rsqrt": opRsqrt, "ex2": opEx2, "lg2": opLg2}[base]
	in.rnd = m.takeRound()
	if m.take(".approx") {
		in.flags |= fApprox
	}
	if m.take(".ftz") {
		in.flags |= fFtz
	}
	err := d.finalType(in, m)
	if err != nil {
		return err
	}
	t := in.t
	switch in.op {
	case opRcp, opSqrt, opRsqrt, opEx2, opLg2:
		if t != tyF32 && t != tyF64 {
			return d.errf("%s needs .f32 or .f64", base)
		}
		if in.flags&fApprox == 0 && (in.rnd != rmRN || in.op == opRsqrt || in.op == opEx2 || in.op == opLg2) {
			return d.errf("%s needs .approx or .rn", base)
		}
	case opNeg, opAbs:
		if !(t.isSigned() || t == tyF32 || t == tyF64) {
			return d.errf("%s needs a signed or float type", base)
		}
	case opNot:
		if !(t == tyPred || t == tyB16 || t == tyB32 || t == tyB64) {
			return d.errf("not needs .pred or .bN")
		}
	default:
		if t != tyB32 && t != tyB64 {
			return d.errf("%s needs .b32 or .b64", base)
		}
	}
	if err := d.nops(ops, 2); err != nil {
		return err
	}
	if t == tyPred {
		in.a, in.aneg, err = d.pred(ops[1])
		if err == nil && in.aneg {
			err = d.errf("'!' is not allowed here")
		}
	} else {
		in.a, err = d.src(ops[1], t)
	}
	if err != nil {
		return err
	}
	in.d, err = d.dst(ops[0])
	return err
}

func (d *decoder) decodeLogic(in *inst, base string, m mods, ops []rawOperand) error {
	in.op = map[string]opcode{"and": opAnd, "or": opOr, "xor": opXor, "shl": opShl, "shr": opShr}[base]
	err := d.finalType(in, m)
	if err != nil {
		return err
	}
	t := in.t
	switch {
	case in.op == opShr:
		if !t.isInt() || t.size() < 2 {
			return d.errf("shr needs a 16-, 32- or 64-bit integer type")
		}
	case in.op == opShl:
		if !(t == tyB16 || t == tyB32 || t == tyB64) {
			return d.errf("shl needs .bN")
		}
	default:
		if !(t == tyPred || t == tyB16 || t == tyB32 || t == tyB64) {
			return d.errf("%s needs .pred or .bN", base)
		}
	}
	if err := d.nops(ops, 3); err != nil {
		return err
	}
	if t == tyPred {
		var n1, n2 bool
		in.a, n1, err = d.pred(ops[1])
		if err == nil {
			in.b, n2, err = d.pred(ops[2])
		}
		if err == nil && (n1 || n2) {
			err = d.errf("'!' is not allowed here")
		}
	} else {
		in.a, err = d.src(ops[1], t)
		if err == nil {
			bt := t
			if in.op == opShl || in.op == opShr {
				bt = tyU32
			}
			in.b, err = d.src(ops[2], bt)
		}
	}
	if err != nil {
		return err
	}
	in.d, err = d.dst(ops[0])
	return err
}

func (d *decoder) decodeBits(in *inst, base string, m mods, ops []rawOperand) error {
	err := d.finalType(in, m)
	if err != nil {
		return err
	}
	t := in.t
	var types []ptype
	switch base {
	case "bfe":
		in.op = opBfe
		if !(t == tyU32 || t == tyS32 || t == tyU64 || t == tyS64) {
			return d.errf("bfe needs .u32/.s32/.u64/.s64")
		}
		types = []ptype{t, tyU32, tyU32}
	case "bfi":
		in.op = opBfi
		if t != tyB32 && t != tyB64 {
			return d.errf("bfi needs .b32 or .b64")
		}
		types = []ptype{t, t, tyU32, tyU32}
	case "prmt":
		in.op = opPrmt
		if t != tyB32 {
			return d.errf("prmt needs .b32")
		}
		types = []ptype{t, t, t}
	case "lop3":
		in.op = opLop3
		if t != tyB32 {
			return d.errf("lop3 needs .b32")
		}
		types = []ptype{t, t, t, tyB8}
	}
	if err := d.nops(ops, len(types)+1); err != nil {
		return err
	}
	slots := []*int32{&in.a, &in.b, &in.c, &in.e}
	for i, st := range types {
		if *slots[i], err = d.src(ops[i+1], st); err != nil {
			return err
		}
	}
	if in.op == opLop3 && ops[4].kind != rNum {
		return d.errf("lop3 needs a literal truth table")
	}
	in.d, err = d.dst(ops[0])
	return err
}

func (d *decoder) decodeSetp(in *inst, m mods, ops []rawOperand) error {
	in.op = opSetp
	cmp, ok := m.takeFrom(cmpNames)
	if !ok {
		return d.errf("setp needs a comparison")
	}
	in.sub = cmp
	if b, ok := m.takeFrom(map[string]uint8{".and": boolAnd, ".or": boolOr, ".xor": boolXor}); ok {
		in.bop = b
	}
	if m.take(".ftz") {
		in.flags |= fFtz
	}
	err := d.finalType(in, m)
	if err != nil {
		return err
	}
	t := in.t
	if t == tyPred || t.size() < 2 || t == tyF16x2 || t == tyBF16x2 || t == tyTF32 || t == tyF16 || t == tyBF16 {
		return d.errf("setp on %v is not supported", t)
	}
	if cmp >= cmpEQU && !t.isFloat() {
		return d.errf("unordered comparisons need a float type")
	}
	if (cmp >= cmpLO && cmp <= cmpHS) && t.isFloat() {
		return d.errf("lo/ls/hi/hs need an integer type")
	}
	want := 3
	if in.bop != 0 {
		want = 4
	}
	if err := d.nops(ops, want); err != nil {
		return err
	}
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
	if in.a, err = d.src(ops[1], t); err != nil {
		return err
	}
	if in.b, err = d.src(ops[2], t); err != nil {
		return err
	}
	if want == 4 {
		in.flags |= fHasC
		in.c, in.cneg, err = d.pred(ops[3])
	}
	return err
}

func (d *decoder) decodeSelp(in *inst, m mods, ops []rawOperand) error {
	in.op = opSelp
	err := d.finalType(in, m)
	if err != nil {
		return err
	}
	t := in.t
	if err := d.nops(ops, 4); err != nil {
		return err
	}
	if in.a, err = d.src(ops[1], t); err != nil {
		return err
	}
	if in.b, err = d.src(ops[2], t); err != nil {
		return err
	}
	if in.c, in.cneg, err = d.pred(ops[3]); err != nil {
		return err
	}
	if in.cneg {
		return d.errf("selp does not take a negated predicate")
	}
	in.d, err = d.dst(ops[0])
	return err
}

func (d *decoder) decodeCvt(in *inst, m mods, ops []rawOperand) error {
	in.op = opCvt
	in.rnd = m.takeRound()
	if m.take(".ftz") {
		in.flags |= fFtz
	}
	if m.take(".sat") {
		in.flags |= fSat
	}
	ts := m.takeTypes()
	if err := d.done(m); err != nil {
		return err
	}
	if len(ts) != 2 {
		return d.errf("cvt needs a destination and a source type")
	}
	dt, st := ts[0], ts[1]
	in.t, in.t2 = dt, st
	var err error
	if dt == tyF16x2 || dt == tyBF16x2 {
		if st != tyF32 || in.rnd != rmRN && in.rnd != rmRZ {
			return d.errf("cvt to %v needs .rn or .rz and an .f32 source", dt)
		}
		in.op = opCvtPack
		if err := d.nops(ops, 3); err != nil {
			return err
		}
		if in.a, err = d.src(ops[1], st); err != nil {
			return err
		}
		if in.b, err = d.src(ops[2], st); err != nil {
			return err
		}
		in.d, err = d.dst(ops[0])
		return err
	}
	if dt == tyPred || st == tyPred || st == tyF16x2 || st == tyBF16x2 || st == tyTF32 {
		return d.errf("cvt from %v to %v is not supported", st, dt)
	}
	if err := d.cvtRounding(in, dt, st); err != nil {
		return err
	}
	if err := d.nops(ops, 2); err != nil {
		return err
	}
	if in.a, err = d.src(ops[1], st); err != nil {
		return err
	}
	in.d, err = d.dst(ops[0])
	return err
}

// cvtRounding enforces which rounding modifiers PTX requires or allows.
func (d *decoder) cvtRounding(in *inst, dt, st ptype) error {
	r := in.rnd
	intRnd := r >= rmRNI
	fltRnd := r >= rmRN && r <= rmRNA
	switch {
	case dt == tyTF32:
		if st != tyF32 || !(r == rmRNA || r == rmRN || r == rmRZ) {
			return d.errf("cvt to .tf32 needs an .f32 source and .rna, .rn or .rz")
		}
	case dt.isFloat() && st.isFloat():
		narrowing := dt.size() < st.size() || dt == tyBF16 && st == tyF16 || dt == tyF16 && st == tyBF16
		switch {
		case dt == st:
			if r != rmNone && !intRnd {
				return d.errf("same-type float cvt takes an integer rounding modifier")
			}
		case narrowing:
			if !fltRnd || r == rmRNA && dt != tyTF32 {
				return d.errf("narrowing float cvt needs .rn, .rz, .rm or .rp")
			}
		default:
			if r != rmNone && !intRnd {
				return d.errf("widening float cvt takes no float rounding modifier")
			}
		}
	case dt.isFloat() && st.isInt():
		if !fltRnd || r == rmRNA {
			return d.errf("int to float cvt needs .rn, .rz, .rm or .rp")
		}
		if st.size() == 8 && r != rmRN {
			return d.errf("64-bit int to float cvt supports only .rn")
		}
		if dt == tyF16 || dt == tyBF16 {
			if st.size() > 4 {
				return d.errf("64-bit int to %v is not supported", dt)
			}
		}
	case dt.isInt() && st.isFloat():
		if !intRnd {
			return d.errf("float to int cvt needs .rni, .rzi, .rmi or .rpi")
		}
	default:
		if r != rmNone {
			return d.errf("int to int cvt takes no rounding modifier")
		}
	}
	return nil
}
