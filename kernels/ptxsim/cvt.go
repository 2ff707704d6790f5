package ptxsim

import "math"

// cvt converts between PTX types following the ISA's rules for each pair.
func (b *blockRun) cvt(t *thread, in *inst) error {
	r := t.regs
	dt, st := in.t, in.t2
	v := r[in.a]
	ftz := in.flags&fFtz != 0
	sat := in.flags&fSat != 0
	switch {
	case dt.isInt() && st.isInt():
		x := st.ext(v)
		if sat {
			x = satInt(x, st.isSigned(), dt)
		}
		r[in.d] = dt.ext(x)
		return nil
	case st.isInt():
		var f float64
		if st.isSigned() {
			f = float64(int64(st.ext(v)))
		} else {
			f = float64(st.ext(v))
		}
		if st.size() == 8 {
			// 64-bit sources only allow .rn: convert directly, avoiding
			// the double rounding through float64.
			switch dt {
			case tyF32:
				var g float32
				if st.isSigned() {
					g = float32(int64(v))
				} else {
					g = float32(v)
				}
				r[in.d] = b32(satF32(g, sat))
				return nil
			}
		}
		r[in.d] = fromF64(f, dt, in.rnd, sat, ftz)
		return nil
	}
	var f float64
	switch st {
	case tyF32:
		g := f32(v)
		if ftz {
			g = ftz32(g)
		}
		f = float64(g)
	case tyF64:
		f = f64(v)
	case tyF16:
		f = halfToF64(uint16(v))
	case tyBF16:
		f = float64(bf16ToF32(uint16(v)))
	}
	if dt.isInt() {
		r[in.d] = floatToInt(f, in.rnd, dt)
		return nil
	}
	if in.rnd >= rmRNI {
		f = roundInt(f, in.rnd)
	}
	r[in.d] = fromF64(f, dt, in.rnd, sat, ftz)
	return nil
}

// fromF64 rounds an exact value into a float destination type.
func fromF64(f float64, dt ptype, m rmode, sat, ftz bool) uint64 {
	if sat {
		f = sat01(f)
	}
	if m >= rmRNI {
		m = rmRN // the value is already integral
	}
	switch dt {
	case tyF32:
		g := toF32(f, m)
		if ftz {
			g = ftz32(g)
		}
		return b32(g)
	case tyF64:
		return b64(f)
	case tyF16:
		return uint64(toHalf(f, m))
	case tyBF16:
		return uint64(toBF16(f, m))
	case tyTF32:
		return uint64(toTF32(f, m))
	}
	return 0
}

func satF32(g float32, sat bool) float32 {
	if sat {
		return float32(sat01(float64(g)))
	}
	return g
}

// satInt clamps an integer (sign-extended when signed) to dt's range.
func satInt(x uint64, signed bool, dt ptype) uint64 {
	w := dt.bits()
	if dt.isSigned() {
		lo, hi := -int64(1)<<(w-1), int64(1)<<(w-1)-1
		if w == 64 {
			lo, hi = math.MinInt64, math.MaxInt64
		}
		if signed {
			s := int64(x)
			if s < lo {
				return uint64(lo)
			}
			if s > hi {
				return uint64(hi)
			}
			return x
		}
		if x > uint64(hi) {
			return uint64(hi)
		}
		return x
	}
	hi := dt.mask()
	if signed && int64(x) < 0 {
		return 0
	}
	if x > hi {
		return hi
	}
	return x
}
