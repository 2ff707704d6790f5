package ptxsim

// Conversions for the black-box tests: round-to-nearest-even f32 to f16 and
// bf16 bits, as cvt.rn does.
func HalfBits(f float32) uint16 { return toHalf(float64(f), rmRN) }
func BF16Bits(f float32) uint16 { return toBF16(float64(f), rmRN) }
