package ops_test

import (
	"fmt"
	"math"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func wave(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Sin(float64(i) * 0.37))
	}
	return v
}

// A LoRA layer over a frozen NF4 weight, one Adam step on its adapters.
func ExampleNewLoRA() {
	w, _ := nf4.QuantizeFloat32s(wave(32*128), 32, 128)
	g := G.NewGraph()
	layer, err := ops.NewLoRA(g, "proj", w, ops.LoRAConfig{Rank: 4, Alpha: 8, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(8, 128), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(8, 128), tensor.WithBacking(wave(8*128)))))
	y := G.Must(layer.Forward(x))
	cost := G.Must(G.Mean(G.Must(G.Square(y))))
	if _, err := G.Grad(cost, layer.Learnables()...); err != nil {
		fmt.Println(err)
		return
	}
	e, _ := nf4.NewEngine()
	vm := G.NewTapeMachine(g, G.WithEngine(e), G.BindDualValues(layer.Learnables()...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	solver := G.NewAdamSolver()
	if err := solver.Step(G.NodesToValueGrads(layer.Learnables())); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape(), layer.TrainableParams(), "trainable")
	// Output:
	// (8, 32) 640 trainable
}

func ExampleDequantize() {
	w, _ := nf4.QuantizeFloat32s(wave(4*64), 4, 64)
	g := G.NewGraph()
	W := G.NewTensor(g, nf4.Dtype, 2, G.WithShape(4, 64), G.WithName("w"), G.WithValue(w))
	f := G.Must(ops.Dequantize(W))
	fmt.Println(W.Type(), "→", f.Type(), f.Shape())
	// Output:
	// Matrix nf4 → Matrix float32 (4, 64)
}
