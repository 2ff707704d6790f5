package checkpoint

import (
	"encoding/binary"
	"math"

	"gorgonia.org/tensor"
)

// Float32s decodes a float tensor (F32, F16, BF16 or F64, which is
// rounded) into a new slice. A finite F64 value beyond float32's range is
// an error naming it, its row and its column, not a silent ±Inf.
func (c *Checkpoint) Float32s(name string) (_ []float32, _ TensorInfo, err error) {
	defer guardMapped(&err)()
	b, t, err := c.Raw(name)
	if err != nil {
		return nil, t, err
	}
	if !t.DType.IsFloat() {
		return nil, t, tensorErr(t.File, name, "dtype %s is not a float type", t.DType)
	}
	out := make([]float32, t.Elements())
	decodeFloats(out, b, t.DType)
	if t.DType == F64 {
		for i, v := range out {
			if x := math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])); math.IsInf(float64(v), 0) && !math.IsInf(x, 0) {
				cols := 1
				if len(t.Shape) > 0 {
					cols = t.Shape[len(t.Shape)-1]
				}
				return nil, t, tensorErr(t.File, name, "value %v at row %d, column %d is out of float32 range (largest %v)", x, i/cols, i%cols, float32(math.MaxFloat32))
			}
		}
	}
	return out, t, nil
}

// Dense reads a float tensor as a *tensor.Dense: F64 stays float64, F32,
// F16 and BF16 become float32. A 0-d tensor comes back with shape [1].
func (c *Checkpoint) Dense(name string) (_ *tensor.Dense, err error) {
	defer guardMapped(&err)()
	b, t, err := c.Raw(name)
	if err != nil {
		return nil, err
	}
	shape := t.Shape
	if len(shape) == 0 {
		shape = []int{1}
	}
	if t.Elements() == 0 {
		return nil, tensorErr(t.File, name, "shape %v is empty", t.Shape)
	}
	if t.DType == F64 {
		out := make([]float64, t.Elements())
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(out)), nil
	}
	f, _, err := c.Float32s(name)
	if err != nil {
		return nil, err
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f)), nil
}

// decodeFloats converts little-endian elements of type dt into dst.
func decodeFloats(dst []float32, b []byte, dt DType) {
	switch dt {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
}

// EncodeFloats appends src encoded as little-endian dt (F32, F16, BF16 or
// F64) to dst; F16 and BF16 round to nearest even.
func EncodeFloats(dst []byte, src []float32, dt DType) []byte {
	for _, v := range src {
		switch dt {
		case F32:
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
		case F16:
			dst = binary.LittleEndian.AppendUint16(dst, F16FromFloat32(v))
		case BF16:
			dst = binary.LittleEndian.AppendUint16(dst, BF16FromFloat32(v))
		case F64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(float64(v)))
		}
	}
	return dst
}
