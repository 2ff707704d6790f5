package nf4_test

import (
	"fmt"
	"strings"

	"github.com/nf4go/nf4"
	"gorgonia.org/tensor"
)

func ExampleWithQuantType() {
	// bitsandbytes' FP4 table instead of NF4: 0.5 of a block whose absmax
	// is 2 is 0.25 of it, which FP4 holds exactly.
	row := make([]float32, 64)
	row[0], row[1], row[2] = 2, -2, 0.5
	q, err := nf4.QuantizeFloat32s(row, 1, 64, nf4.WithQuantType(nf4.FP4))
	if err != nil {
		fmt.Println(err)
		return
	}
	back := make([]float32, 64)
	_ = q.DequantizeInto(back)
	fmt.Println(q.QuantType(), back[:4])
	// Output:
	// fp4 [2 -2 0.5 0]
}

func ExampleQuantizeFlat() {
	// A 3-D tensor of 4×5×7 = 140 values in blocks of 32 over the
	// flattened values, as bitsandbytes lays out any shape: blocks span
	// rows and the last holds 12 values. It dequantizes to its shape; the
	// products refuse it.
	q, err := nf4.QuantizeFlat(wave(1, 140), []int{4, 5, 7}, nf4.WithBlockSize(32))
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := q.Dequantize()
	fmt.Println(q)
	fmt.Println(d.Shape(), len(q.Absmax()))
	e, _ := nf4.NewEngine()
	_, err = e.Linear(tensor.New(tensor.WithShape(1, 7), tensor.WithBacking(make([]float32, 7))), q)
	fmt.Println(strings.Contains(err.Error(), "blocks run across rows"))
	// Output:
	// NF4[4×5×7] block 32 (blocks span rows, the last partial): 90 B, 6.22× smaller than float32
	// (4, 5, 7) 5
	// true
}

func ExampleAssemble() {
	// A tensor rebuilt from its parts, as a file stores them.
	q, _ := nf4.QuantizeFlat(wave(1, 1000), []int{10, 100}, nf4.WithQuantType(nf4.FP4))
	p := q.Parts()
	back, err := nf4.Assemble(p)
	fmt.Println(back, err)
	fmt.Println(p.Shape, p.BlockSize, len(p.Codes), len(p.Absmax))
	// Output:
	// FP4[10×100] block 64 (blocks span rows, the last partial): 564 B, 7.09× smaller than float32 <nil>
	// [10 100] 64 500 16
}
