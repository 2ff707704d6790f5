package nf4_test

import (
	"fmt"
	"math"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// wave returns a smooth rows×cols test matrix.
func wave(rows, cols int) []float32 {
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(math.Sin(float64(i) * 0.37))
	}
	return v
}

func ExampleQuantize() {
	w := tensor.New(tensor.WithShape(1024, 1024), tensor.WithBacking(wave(1024, 1024)))
	q, err := nf4.Quantize(w)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q)
	dq, _ := nf4.Quantize(w, nf4.WithDoubleQuant())
	fmt.Println(dq)
	// Output:
	// NF4[1024×1024] block 64: 576.00 KiB, 7.11× smaller than float32
	// NF4[1024×1024] block 64, double-quantized: 528.25 KiB, 7.75× smaller than float32
}

func ExampleQuantizeFloat32s() {
	// One row, one block of 32: the block's absmax is 2, so 2 and -2 are
	// exact and 0.5 becomes 2×0.2461, the code nearest to 0.5/2.
	row := make([]float32, 32)
	row[0], row[1], row[2] = 2, -2, 0.5
	q, err := nf4.QuantizeFloat32s(row, 1, 32, nf4.WithBlockSize(32))
	if err != nil {
		fmt.Println(err)
		return
	}
	back := make([]float32, 32)
	_ = q.DequantizeInto(back)
	fmt.Println(q.Absmax(), back[:4])
	// Output:
	// [2] [2 -2 0.4922246 0]
}

func ExampleQuantizeFloat32s_badInput() {
	_, err := nf4.QuantizeFloat32s(make([]float32, 2*96), 2, 96)
	fmt.Println(err)
	row := wave(2, 64)
	row[100] = float32(math.NaN())
	_, err = nf4.QuantizeFloat32s(row, 2, 64)
	fmt.Println(err)
	// Output:
	// nf4: quantize: shape [2 96]: K=96 is not a multiple of the block size 64
	// nf4: quantize: non-finite weight NaN at row 1, column 36 (block 0 of that row)
}

func ExampleEngine_Linear() {
	e, _ := nf4.NewEngine()
	w, _ := nf4.QuantizeFloat32s(wave(3, 64), 3, 64)
	x := tensor.New(tensor.WithShape(2, 64), tensor.WithBacking(wave(2, 64)))
	y, err := e.Linear(x, w) // x·Wᵀ
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape(), y.Dtype())
	// Output:
	// (2, 3) float32
}

// An NF4 weight in a gorgonia graph, run by a TapeMachine with the engine
// plugged in, with the gradient of the activation.
func Example() {
	g := G.NewGraph()
	w, _ := nf4.QuantizeFloat32s(wave(4, 64), 4, 64)
	W := G.NewTensor(g, nf4.Dtype, 2, G.WithShape(4, 64), G.WithName("w"), G.WithValue(w))
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 64), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(2, 64), tensor.WithBacking(wave(2, 64)))))
	y := G.Must(ops.Linear(x, W))
	cost := G.Must(G.Sum(y))
	dx, _ := G.Grad(cost, x)

	e, _ := nf4.NewEngine()
	vm := G.NewTapeMachine(g, G.WithEngine(e))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(W.Type(), y.Shape(), dx[0].Shape())
	// Output:
	// Matrix nf4 (2, 4) (2, 64)
}
