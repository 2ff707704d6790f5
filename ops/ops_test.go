package ops_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func randomMatrix(r *rand.Rand, rows, cols int) []float32 {
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}

func engine(t *testing.T) *nf4.Engine {
	e, err := nf4.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDequantizeOp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	w, _ := nf4.QuantizeFloat32s(randomMatrix(r, 5, 64), 5, 64)
	g := G.NewGraph()
	W := G.NewTensor(g, nf4.Dtype, 2, G.WithShape(5, 64), G.WithName("w"), G.WithValue(w))
	d, err := ops.Dequantize(W)
	if err != nil {
		t.Fatal(err)
	}
	if d.Dtype() != tensor.Float32 || !d.Shape().Eq(tensor.Shape{5, 64}) {
		t.Fatalf("dequantize node: %v %v", d.Dtype(), d.Shape())
	}
	vm := G.NewTapeMachine(g, G.WithEngine(engine(t)))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 5*64)
	_ = w.DequantizeInto(want)
	got := d.Value().Data().([]float32)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("element %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestLinearShapeErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	w, _ := nf4.QuantizeFloat32s(randomMatrix(r, 8, 64), 8, 64)
	g := G.NewGraph()
	W := G.NewTensor(g, nf4.Dtype, 2, G.WithShape(8, 64), G.WithName("w"), G.WithValue(w))
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 32), G.WithName("x"))
	if _, err := ops.Linear(x, W); err == nil {
		t.Error("activation [2 32] accepted for weight [8 64]")
	}
	f := G.NewMatrix(g, tensor.Float32, G.WithShape(8, 64), G.WithName("f"))
	if _, err := ops.Linear(x, f); err == nil {
		t.Error("float weight accepted as NF4")
	}
	if _, err := ops.Linear(nil, W); err == nil {
		t.Error("nil activation accepted")
	}
	if _, err := ops.NewLoRA(g, "l", w, ops.LoRAConfig{Rank: 100}); err == nil {
		t.Error("rank 100 accepted for an 8×64 weight")
	}
	if _, err := ops.NewLoRA(g, "l", w, ops.LoRAConfig{Bias: make([]float32, 3)}); err == nil {
		t.Error("bias of the wrong length accepted")
	}
	if _, err := ops.NewLoRA(g, "", w, ops.LoRAConfig{}); err == nil {
		t.Error("empty name accepted")
	}
	// A 4-bit tensor read from a file may have any rank: a LoRA layer
	// needs a 2-D weight, and says so instead of panicking in gorgonia.
	for _, shape := range [][]int{{4, 2, 64}, {512}} {
		v, err := nf4.QuantizeFlat(randomMatrix(r, 8, 64), shape)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ops.NewLoRA(g, "odd", v, ops.LoRAConfig{Rank: 1}); err == nil || !strings.Contains(err.Error(), "2-D") {
			t.Errorf("weight of shape %v: %v", shape, err)
		}
	}
}

// A fresh LoRA layer computes the base layer (B = 0); after one manual
// change to B it computes base + (alpha/r)·x·Aᵀ·Bᵀ + bias; training moves
// A and B and leaves W alone.
func TestLoRA(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n, k, m = 24, 96, 5
	w, _ := nf4.QuantizeFloat32s(randomMatrix(r, n, k), n, k, nf4.WithBlockSize(32))
	bias := randomMatrix(r, 1, n)
	xv := randomMatrix(r, m, k)
	g := G.NewGraph()
	l, err := ops.NewLoRA(g, "layer", w, ops.LoRAConfig{Rank: 4, Alpha: 8, Bias: bias, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if l.TrainableParams() != 4*(n+k) || len(l.Learnables()) != 2 {
		t.Fatalf("trainable %d, learnables %d", l.TrainableParams(), len(l.Learnables()))
	}
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(m, k), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(m, k), tensor.WithBacking(xv))))
	y, err := l.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	var yv G.Value
	G.Read(y, &yv) // the tape may reuse y's memory once the backward pass runs
	cost := G.Must(G.Mean(G.Must(G.Square(y))))
	if _, err := G.Grad(cost, l.Learnables()...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.WithEngine(engine(t)), G.BindDualValues(l.Learnables()...))
	defer vm.Close()

	wd := make([]float32, n*k)
	_ = w.DequantizeInto(wd)
	reference := func() []float32 {
		a := l.A.Value().Data().([]float32)
		b := l.B.Value().Data().([]float32)
		out := make([]float32, m*n)
		for i := range m {
			xa := make([]float64, 4)
			for q := range 4 {
				for c := range k {
					xa[q] += float64(xv[i*k+c]) * float64(a[q*k+c])
				}
			}
			for j := range n {
				s := float64(bias[j])
				for c := range k {
					s += float64(xv[i*k+c]) * float64(wd[j*k+c])
				}
				for q := range 4 {
					s += 2 * xa[q] * float64(b[j*4+q])
				}
				out[i*n+j] = float32(s)
			}
		}
		return out
	}
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if e := relErr(yv.Data().([]float32), reference()); e > 1e-5 {
		t.Fatalf("fresh layer: error %.2e", e)
	}
	before := cost.Value().Data().(float32)
	solver := G.NewAdamSolver(G.WithLearnRate(0.01))
	for range 20 {
		if err := solver.Step(G.NodesToValueGrads(l.Learnables())); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	after := cost.Value().Data().(float32)
	if !(after < 0.9*before) {
		t.Errorf("cost %v → %v after 20 steps", before, after)
	}
	if e := relErr(yv.Data().([]float32), reference()); e > 1e-5 {
		t.Errorf("trained layer: error %.2e", e)
	}
	if l.W.Value() != G.Value(w) {
		t.Error("the base weight was replaced")
	}
}
