package nf4_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func newEngine(t testing.TB) *nf4.Engine {
	t.Helper()
	e, err := nf4.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// floatMLP builds a float-only graph: two layers, ReLU, softmax
// cross-entropy, and its gradients. It returns the cost and the gradients.
// With symbolic false the gradients are left to a LispMachine.
func floatMLP(t testing.TB, dt tensor.Dtype, symbolic bool) (*G.ExprGraph, *G.Node, G.Nodes) {
	t.Helper()
	r := rand.New(rand.NewPCG(21, 22))
	g := G.NewGraph()
	val := func(rows, cols int) *tensor.Dense {
		v := randomMatrix(r, rows, cols)
		if dt == tensor.Float64 {
			return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(widen(v)))
		}
		return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(v))
	}
	x := G.NewMatrix(g, dt, G.WithShape(17, 40), G.WithName("x"), G.WithValue(val(17, 40)))
	w1 := G.NewMatrix(g, dt, G.WithShape(40, 33), G.WithName("w1"), G.WithValue(val(40, 33)))
	w2 := G.NewMatrix(g, dt, G.WithShape(33, 5), G.WithName("w2"), G.WithValue(val(33, 5)))
	b := G.NewVector(g, dt, G.WithShape(33), G.WithName("b"), G.WithValue(tensor.New(tensor.WithShape(33), tensor.WithBacking(val(1, 33).Data()))))
	h := G.Must(G.Rectify(G.Must(G.BroadcastAdd(G.Must(G.Mul(x, w1)), b, nil, []byte{0}))))
	logits := G.Must(G.Mul(h, w2))
	sm := G.Must(G.SoftMax(logits))
	cost := G.Must(G.Neg(G.Must(G.Mean(G.Must(G.Log(sm))))))
	if !symbolic {
		return g, cost, G.Nodes{x, w1, w2, b}
	}
	grads, err := G.Grad(cost, x, w1, w2, b)
	if err != nil {
		t.Fatal(err)
	}
	return g, cost, grads
}

// The engine is a drop-in: a float-only graph gives bit-identical results
// with gorgonia's default engine and with nf4's, in both VMs.
func TestEngineDropIn(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		run := func(withNF4, lisp bool) []interface{} {
			g, cost, nodes := floatMLP(t, dt, !lisp)
			var opts []G.VMOpt
			if withNF4 {
				opts = append(opts, G.WithEngine(newEngine(t)))
			}
			var vm G.VM
			if lisp {
				vm = G.NewLispMachine(g, opts...)
			} else {
				vm = G.NewTapeMachine(g, opts...)
			}
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			out := []interface{}{cost.Value().Data()}
			for _, n := range nodes {
				v := n.Value() // a gradient node (tape), or an input whose gradient lisp kept
				if lisp {
					var err error
					if v, err = n.Grad(); err != nil {
						t.Fatal(err)
					}
				}
				out = append(out, v.(tensor.Tensor).Clone().(tensor.Tensor).Data())
			}
			return out
		}
		for _, lisp := range []bool{false, true} {
			std, ours := run(false, lisp), run(true, lisp)
			for i := range std {
				if !identical(std[i], ours[i]) {
					t.Errorf("%v lisp=%v: output %d differs with the nf4 engine", dt, lisp, i)
				}
			}
		}
	}
}

func identical(a, b interface{}) bool {
	switch a := a.(type) {
	case float32:
		return math.Float32bits(a) == math.Float32bits(b.(float32))
	case float64:
		return math.Float64bits(a) == math.Float64bits(b.(float64))
	case []float32:
		bb := b.([]float32)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(bb[i]) {
				return false
			}
		}
		return len(a) == len(bb)
	case []float64:
		bb := b.([]float64)
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(bb[i]) {
				return false
			}
		}
		return len(a) == len(bb)
	}
	return false
}

func TestEngineLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	e := newEngine(t)
	for _, sh := range []struct{ n, k, b int }{{1, 64, 64}, {70, 96, 32}, {129, 512, 128}} {
		w, err := nf4.QuantizeFloat32s(randomMatrix(r, sh.n, sh.k), sh.n, sh.k, nf4.WithBlockSize(sh.b))
		if err != nil {
			t.Fatal(err)
		}
		wd := make([]float32, sh.n*sh.k)
		if err := w.DequantizeInto(wd); err != nil {
			t.Fatal(err)
		}
		for _, m := range []int{1, 17, 64} {
			xv := randomMatrix(r, m, sh.k)
			want := matmulT64(widen(xv), wd, m, sh.n, sh.k)
			y, err := e.Linear(tensor.New(tensor.WithShape(m, sh.k), tensor.WithBacking(xv)), w)
			if err != nil {
				t.Fatal(err)
			}
			if !y.Shape().Eq(tensor.Shape{m, sh.n}) || y.Engine() != tensor.Engine(e) {
				t.Fatalf("output shape %v, engine %T", y.Shape(), y.Engine())
			}
			if err := normwise(t, y.Data(), want); err > 1e-5 {
				t.Errorf("N=%d K=%d M=%d: float32 error %.2e", sh.n, sh.k, m, err)
			}
			y64, err := e.Linear(tensor.New(tensor.WithShape(m, sh.k), tensor.WithBacking(widen(xv))), w)
			if err != nil || y64.Dtype() != tensor.Float64 {
				t.Fatal(y64.Dtype(), err)
			}
			if err := normwise(t, y64.Data(), want); err > 1e-7 {
				t.Errorf("N=%d K=%d M=%d: float64 error %.2e", sh.n, sh.k, m, err)
			}
		}
	}
	w, _ := nf4.QuantizeFloat32s(randomMatrix(r, 8, 64), 8, 64)
	bad := map[string]func() error{
		"wrong K": func() error {
			_, err := e.Linear(tensor.New(tensor.WithShape(2, 32), tensor.WithBacking(make([]float32, 64))), w)
			return err
		},
		"vector": func() error {
			_, err := e.Linear(tensor.New(tensor.WithShape(64), tensor.WithBacking(make([]float32, 64))), w)
			return err
		},
		"int activation": func() error {
			_, err := e.Linear(tensor.New(tensor.WithShape(1, 64), tensor.WithBacking(make([]int, 64))), w)
			return err
		},
		"nil weight": func() error {
			_, err := e.Linear(tensor.New(tensor.WithShape(1, 64), tensor.WithBacking(make([]float32, 64))), nil)
			return err
		},
		"nil activation": func() error { _, err := e.LinearBackward(nil, w); return err },
		"output shape": func() error {
			return e.LinearInto(tensor.New(tensor.WithShape(1, 7), tensor.WithBacking(make([]float32, 7))),
				tensor.New(tensor.WithShape(1, 64), tensor.WithBacking(make([]float32, 64))), w)
		},
		"output dtype": func() error {
			return e.LinearInto(tensor.New(tensor.WithShape(1, 8), tensor.WithBacking(make([]float64, 8))),
				tensor.New(tensor.WithShape(1, 64), tensor.WithBacking(make([]float32, 64))), w)
		},
	}
	for name, f := range bad {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// nf4Graph: cost = Σ (x·Wᵀ)² ⊙ c for an NF4 weight; refGraph does the same
// with the dequantized weight as a float constant.
func buildLinearGraphs(t *testing.T, w *nf4.Tensor, xv []float32, m int, useNF4 bool) (*G.ExprGraph, *G.Node, *G.Node, *G.Value, *G.Node) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(m, w.Cols()), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(m, w.Cols()), tensor.WithBacking(append([]float32(nil), xv...)))))
	var W, y *G.Node
	if useNF4 {
		W = G.NewTensor(g, nf4.Dtype, 2, G.WithShape(w.Rows(), w.Cols()), G.WithName("w"), G.WithValue(w))
		y = G.Must(ops.Linear(x, W))
	} else {
		d, err := w.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		W = G.NewMatrix(g, tensor.Float32, G.WithShape(w.Rows(), w.Cols()), G.WithName("w"), G.WithValue(d))
		y = G.Must(G.Mul(x, G.Must(G.Transpose(W))))
	}
	yv := new(G.Value)
	G.Read(y, yv) // the tape may reuse y's memory in the backward pass
	cost := G.Must(G.Sum(G.Must(G.Square(y))))
	return g, x, W, yv, cost
}

func TestLinearGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	const n, k = 37, 128
	w, _ := nf4.QuantizeFloat32s(randomMatrix(r, n, k), n, k, nf4.WithBlockSize(32), nf4.WithDoubleQuant())
	for _, m := range []int{1, 17} {
		xv := randomMatrix(r, m, k)
		for _, lisp := range []bool{false, true} {
			results := make([][]float32, 2)
			ys := make([][]float32, 2)
			for i, useNF4 := range []bool{false, true} {
				g, x, W, y, cost := buildLinearGraphs(t, w, xv, m, useNF4)
				var vm G.VM
				if lisp {
					vm = G.NewLispMachine(g, G.WithEngine(newEngine(t)))
				} else {
					if _, err := G.Grad(cost, x); err != nil {
						t.Fatal(err)
					}
					vm = G.NewTapeMachine(g, G.WithEngine(newEngine(t)))
				}
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				gx, err := x.Grad()
				if err != nil {
					t.Fatal(err)
				}
				results[i] = append([]float32(nil), dataOf(t, gx.(tensor.Tensor))...)
				ys[i] = append([]float32(nil), dataOf(t, (*y).(tensor.Tensor))...)
				if useNF4 {
					if W.Value() != G.Value(w) {
						t.Error("the weight node's value was replaced")
					}
					// The tape has no gradient node for W; lisp keeps the
					// placeholder it made from W, which nothing may write.
					gw, err := W.Grad()
					if !lisp && err == nil {
						t.Errorf("the frozen weight got a gradient %v", gw)
					}
					if lisp {
						if p, ok := gw.(*nf4.Tensor); !ok || !equalBytes(p.Codes(), w.Codes()) {
							t.Errorf("the frozen weight's gradient slot changed: %v", gw)
						}
					}
				}
				vm.Close()
			}
			wd := make([]float32, n*k)
			_ = w.DequantizeInto(wd)
			yRef := matmulT64(widen(xv), wd, m, n, k)
			if e := normwise(t, ys[0], yRef); e > 1e-5 {
				t.Fatalf("M=%d lisp=%v: the float graph's forward is off by %.2e", m, lisp, e)
			}
			// d(Σy²)/dx = 2·y·W
			dxRef := make([]float64, m*k)
			for i := range m {
				for j := range n {
					for c := range k {
						dxRef[i*k+c] += 2 * yRef[i*n+j] * float64(wd[j*k+c])
					}
				}
			}
			if e := normwise(t, results[1], dxRef); e > 1e-5 {
				t.Errorf("M=%d lisp=%v: NF4 dx is off the float64 reference by %.2e", m, lisp, e)
			}
			if e := normwise(t, ys[1], widen(ys[0])); e > 1e-5 {
				t.Errorf("M=%d lisp=%v: forward differs by %.2e", m, lisp, e)
			}
			if e := normwise(t, results[1], widen(results[0])); e > 1e-5 {
				t.Errorf("M=%d lisp=%v: dx differs by %.2e", m, lisp, e)
			}
		}
	}
}

// Two NF4 layers of the same shape on the same input stay distinct nodes.
func TestTwoLayersStayDistinct(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	w1, _ := nf4.QuantizeFloat32s(randomMatrix(r, 16, 64), 16, 64)
	w2, _ := nf4.QuantizeFloat32s(randomMatrix(r, 16, 64), 16, 64)
	g := G.NewGraph()
	xv := randomMatrix(r, 3, 64)
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(3, 64), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(3, 64), tensor.WithBacking(xv))))
	W1 := G.NewTensor(g, nf4.Dtype, 2, G.WithShape(16, 64), G.WithName("w1"), G.WithValue(w1))
	W2 := G.NewTensor(g, nf4.Dtype, 2, G.WithShape(16, 64), G.WithName("w2"), G.WithValue(w2))
	y1, y2 := G.Must(ops.Linear(x, W1)), G.Must(ops.Linear(x, W2))
	if y1 == y2 || W1 == W2 {
		t.Fatal("layers merged")
	}
	vm := G.NewTapeMachine(g, G.WithEngine(newEngine(t)))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		w *nf4.Tensor
		y *G.Node
	}{{w1, y1}, {w2, y2}} {
		wd := make([]float32, 16*64)
		_ = c.w.DequantizeInto(wd)
		if e := normwise(t, c.y.Value().Data(), matmulT64(widen(xv), wd, 3, 16, 64)); e > 1e-5 {
			t.Errorf("layer %d: error %.2e", i+1, e)
		}
	}
}

func TestEngineBackend(t *testing.T) {
	e := newEngine(t)
	if b := e.Backend(); len(b) < 3 || b[:3] != "cpu" {
		t.Errorf("Backend() = %q", b)
	}
}
