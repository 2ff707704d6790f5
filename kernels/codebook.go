package kernels

import "fmt"

// Codebook is the NF4 code table: code c decodes to Codebook[c]·absmax.
var Codebook = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

// QuantType selects the 4-bit code table a kernel is generated for; the
// zero value is NF4.
//
// How the table reaches a kernel (one mechanism for every kernel, new ones
// included): each kernel configuration has a Quant field; its PTX method
// passes it to build, which emits that table as the module's .const array
// "codebook" and hands the symbol to the kernel body. Bodies decode only
// through that array (laneLUT), never through literals, so one body serves
// every table. The quantizer, which compares against the table's sorted
// midpoints, takes them and the sort order from the QuantType at
// generation. Names of non-NF4 kernels end in "_fp4".
type QuantType int

// The code tables bitsandbytes writes.
const (
	NF4 QuantType = iota
	FP4
)

// FP4 is bitsandbytes' 4-bit float table (get_4bit_type("fp4")): bit 3 the
// sign, magnitudes 0, 0.0625, 8, 12, 4, 6, 2, 3 divided by 12 in float32,
// codes 0 and 8 both +0.0.
var fp4Values = func() (v [16]float32) {
	mags := [8]float32{0, 0.0625, 8, 12, 4, 6, 2, 3}
	for i, m := range mags {
		v[i] = m / 12
		v[8+i] = -m / 12
	}
	v[8] = 0
	return v
}()

func (q QuantType) String() string {
	switch q {
	case NF4:
		return "nf4"
	case FP4:
		return "fp4"
	}
	return fmt.Sprintf("QuantType(%d)", int(q))
}

func (q QuantType) valid() error {
	if q != NF4 && q != FP4 {
		return fmt.Errorf("kernels: code table %v not supported (want NF4 or FP4)", q)
	}
	return nil
}

// Values returns the table, indexed by code.
func (q QuantType) Values() [16]float32 {
	if q == FP4 {
		return fp4Values
	}
	return Codebook
}

// suffix ends the names of kernels generated for a table other than NF4.
func (q QuantType) suffix() string {
	if q == NF4 {
		return ""
	}
	return "_" + q.String()
}

// sorted returns the table's sort order (rank → code, ties keeping the
// lower code first) and the float32 midpoints between neighbours in that
// order, (a+b)/2, as bitsandbytes' quantizer computes them.
func (q QuantType) sorted() (order [16]uint8, mids [15]float32) {
	v := q.Values()
	for i := range order {
		order[i] = uint8(i)
	}
	for i := 1; i < 16; i++ { // insertion sort: stable
		for j := i; j > 0 && v[order[j]] < v[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	for i := range mids {
		mids[i] = (v[order[i]] + v[order[i+1]]) / 2
	}
	return order, mids
}

// Midpoints returns NF4's 15 decision thresholds as bitsandbytes computes
// them, (c[i]+c[i+1])/2 in float32. The code of v = x·(1/max(absmax,
// 1e-38)) is the number of midpoints strictly less than v
// (torch.bucketize), so a value on a midpoint takes the lower code.
func Midpoints() [15]float32 {
	_, m := NF4.sorted()
	return m
}

// ForQuant returns a copy of the kernel configuration k generated for the
// code table q.
func ForQuant(k Kernel, q QuantType) (Kernel, error) {
	if err := q.valid(); err != nil {
		return nil, err
	}
	switch kk := k.(type) {
	case *Dequantize:
		c := *kk
		c.Quant = q
		return &c, nil
	case *Quantize:
		c := *kk
		c.Quant = q
		return &c, nil
	case *Gemv:
		c := *kk
		c.Quant = q
		return &c, nil
	case *Gemm:
		c := *kk
		c.Quant = q
		return &c, nil
	case *GemmTC:
		c := *kk
		c.Quant = q
		return &c, nil
	case *GemmWG:
		c := *kk
		c.Quant = q
		return &c, nil
	}
	return nil, fmt.Errorf("kernels: %T has no code table to set", k)
}
