package nf4_test

import (
	"fmt"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The README's code blocks are the bodies below, word for word
// (readme_test.go checks it), so they compile and run as shown.

// readmeUse is the README's "Use" block.
func readmeUse(dense *tensor.Dense, data []float32, n, k int, batch *tensor.Dense) error {
	w, err := nf4.Quantize(dense) // dense: a *tensor.Dense [N K], float32 or float64
	if err != nil {
		return err
	}
	fmt.Println(w) // NF4[4096×4096] block 64: 9.00 MiB, 7.11× smaller than float32

	dq, err := nf4.QuantizeFloat32s(data, n, k, // or from a flat slice, with options
		nf4.WithBlockSize(64), nf4.WithDoubleQuant())
	if err != nil {
		return err
	}
	fmt.Println(dq) // NF4[4096×4096] block 64, double-quantized: 8.25 MiB, 7.75× smaller than float32

	g := gorgonia.NewGraph()
	W := gorgonia.NewTensor(g, nf4.Dtype, 2, gorgonia.WithShape(n, k),
		gorgonia.WithName("w"), gorgonia.WithValue(w)) // name every weight uniquely
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(batch.Shape()...),
		gorgonia.WithName("x"), gorgonia.WithValue(batch)) // batch: a *tensor.Dense [M K]
	y, err := ops.Linear(x, W) // y = x·Wᵀ, [M N]
	if err != nil {
		return err
	}

	e, err := nf4.NewEngine()
	if err != nil {
		return err
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.WithEngine(e))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return err
	}
	fmt.Println(y.Value().Shape()) // (2, 4096)
	return nil
}

// readmeLoRA is the README's LoRA block.
func readmeLoRA(g *gorgonia.ExprGraph, w *nf4.Tensor, x *gorgonia.Node) error {
	layer, err := ops.NewLoRA(g, "q_proj", w, ops.LoRAConfig{Rank: 8, Alpha: 16})
	if err != nil {
		return err
	}
	y, err := layer.Forward(x) // y = x·Wᵀ + (alpha/r)·(x·Aᵀ)·Bᵀ
	if err != nil {
		return err
	}
	cost := gorgonia.Must(gorgonia.Mean(gorgonia.Must(gorgonia.Square(y))))
	if _, err := gorgonia.Grad(cost, layer.Learnables()...); err != nil {
		return err
	}
	fmt.Println(len(layer.Learnables()), "trainable tensors:", layer.TrainableParams(), "values") // 2 trainable tensors: 1536 values
	return nil
}

func Example_readme() {
	n, k := 4096, 4096
	data := wave(n, k)
	dense := tensor.New(tensor.WithShape(n, k), tensor.WithBacking(data))
	batch := tensor.New(tensor.WithShape(2, k), tensor.WithBacking(wave(2, k)))
	if err := readmeUse(dense, data, n, k, batch); err != nil {
		fmt.Println(err)
	}

	w, _ := nf4.QuantizeFloat32s(wave(64, 128), 64, 128)
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(4, 128), gorgonia.WithName("x"))
	if err := readmeLoRA(g, w, x); err != nil {
		fmt.Println(err)
	}
	// Output:
	// NF4[4096×4096] block 64: 9.00 MiB, 7.11× smaller than float32
	// NF4[4096×4096] block 64, double-quantized: 8.25 MiB, 7.75× smaller than float32
	// (2, 4096)
	// 2 trainable tensors: 1536 values
}

func ExampleTensor_String() {
	data := wave(1024, 1024)
	for _, b := range []int{64, 128} {
		w, err := nf4.QuantizeFloat32s(data, 1024, 1024, nf4.WithBlockSize(b))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(w.String())
	}
	// Output:
	// NF4[1024×1024] block 64: 576.00 KiB, 7.11× smaller than float32
	// NF4[1024×1024] block 128: 544.00 KiB, 7.53× smaller than float32
}
