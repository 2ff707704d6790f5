package nf4

import (
	"reflect"

	"github.com/nf4go/nf4/cpu"
	"gorgonia.org/tensor"
)

// nf4 is the element type behind Dtype: one 4-bit code. It only tags
// values; NF4 data never lives in a tensor.Dense.
type nf4 uint8

// Dtype is the tensor.Dtype of NF4 values; it prints as "nf4".
var Dtype = tensor.Dtype{Type: reflect.TypeOf(nf4(0))}

func init() {
	// Registered as a plain type only: tensor has no kernels for it, and
	// claiming Number or Float would let generic ops accept it and fail late.
	tensor.Register(Dtype)
}

// Codebook holds the 16 NF4 values, ascending from -1 to 1; code 7 is 0.
var Codebook = cpu.Codebook

// DefaultBlockSize is the number of values that share one scale unless
// WithBlockSize says otherwise.
const DefaultBlockSize = cpu.DefaultBlockSize

// BlockSizes lists the accepted block sizes: powers of two from 32 to 4096.
func BlockSizes() []int {
	var s []int
	for b := cpu.MinBlockSize; b <= cpu.MaxBlockSize; b *= 2 {
		s = append(s, b)
	}
	return s
}
