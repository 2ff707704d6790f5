package llama

import (
	"fmt"
	"math"

	"github.com/nf4go/nf4"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gorgonia.org/tensor"
)

// Linear is one projection y = x·Wᵀ (+ bias) with W [Out, In]: a frozen
// NF4 weight, or a float32 one. LoRA, when set, adds (alpha/r)·(x·Aᵀ)·Bᵀ.
type Linear struct {
	Name    string // module name, e.g. "model.layers.0.self_attn.q_proj"
	Out, In int
	NF4     *nf4.Tensor   // the weight in NF4, or nil
	Float   *tensor.Dense // the weight in float32 [Out In] when NF4 is nil
	Bias    []float32     // [Out] or nil
	LoRA    *LoRA         // adapters, or nil
}

// LoRA holds one module's adapters: A [r, In], B [Out, r], scale alpha/r.
type LoRA struct {
	A, B    *tensor.Dense
	Rank    int
	Alpha   float64
	Dropout float64 // on the adapters' input while training
}

// Scale returns alpha/r.
func (l *LoRA) Scale() float64 { return l.Alpha / float64(l.Rank) }

// IsNF4 reports whether the weight is stored in NF4.
func (l *Linear) IsNF4() bool { return l.NF4 != nil }

// floats returns the float32 weight's values.
func (l *Linear) floats() []float32 { return l.Float.Data().([]float32) }

// Bytes returns the memory the weight takes.
func (l *Linear) Bytes() int {
	if l.NF4 != nil {
		return l.NF4.Bytes()
	}
	return 4 * l.Out * l.In
}

func (l *Linear) String() string {
	kind := "float32"
	if l.NF4 != nil {
		kind = fmt.Sprintf("NF4 block %d", l.NF4.BlockSize())
	}
	s := fmt.Sprintf("%s [%d %d] %s", l.Name, l.Out, l.In, kind)
	if l.LoRA != nil {
		s += fmt.Sprintf(" + LoRA r=%d", l.LoRA.Rank)
	}
	return s
}

// forward writes out[m, Out] = x[m, In]·Wᵀ + bias + LoRA.
func (l *Linear) forward(e *nf4.Engine, out, x []float32, m int) error {
	out, x = out[:m*l.Out], x[:m*l.In]
	if l.NF4 != nil {
		xd := tensor.New(tensor.WithShape(m, l.In), tensor.WithBacking(x))
		od := tensor.New(tensor.WithShape(m, l.Out), tensor.WithBacking(out))
		if err := e.LinearInto(od, xd, l.NF4); err != nil {
			return fmt.Errorf("%s: %w", l.Name, err)
		}
	} else {
		gemm(false, true, m, l.Out, l.In, 1, x, l.floats(), 0, out)
	}
	if l.Bias != nil {
		for r := range m {
			row := out[r*l.Out : (r+1)*l.Out]
			for i, b := range l.Bias {
				row[i] += b
			}
		}
	}
	if a := l.LoRA; a != nil {
		xa := make([]float32, m*a.Rank)
		gemm(false, true, m, a.Rank, l.In, 1, x, a.A.Data().([]float32), 0, xa)
		gemm(false, true, m, l.Out, a.Rank, float32(a.Scale()), xa, a.B.Data().([]float32), 1, out)
	}
	return nil
}

// gemm computes c[m,n] = alpha·op(a)·op(b) + beta·c for row-major a, b, c;
// op transposes when asked: a is [m,k] (or [k,m]), b is [k,n] (or [n,k]).
func gemm(transA, transB bool, m, n, k int, alpha float32, a, b []float32, beta float32, c []float32) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	ar, ac := m, k
	if transA {
		ta, ar, ac = blas.Trans, k, m
	}
	br, bc := k, n
	if transB {
		tb, br, bc = blas.Trans, n, k
	}
	blas32.Gemm(ta, tb, alpha,
		blas32.General{Rows: ar, Cols: ac, Stride: ac, Data: a[:ar*ac]},
		blas32.General{Rows: br, Cols: bc, Stride: bc, Data: b[:br*bc]},
		beta, blas32.General{Rows: m, Cols: n, Stride: n, Data: c[:m*n]})
}

// embedRow writes row id of the table (an embedding or a tied lm_head) into dst.
func (l *Linear) embedRow(dst []float32, id int) {
	if l.NF4 == nil {
		copy(dst, l.floats()[id*l.In:(id+1)*l.In])
		return
	}
	// Blocks run over the flattened matrix (they may span rows), codes
	// decode through the weight's own table (NF4 or FP4).
	w := l.NF4.Weights()
	values := w.Type.Values()
	base := id * l.In
	for i := range l.In {
		e := base + i
		c := w.Codes[e/2]
		if e%2 == 1 {
			c >>= 4
		}
		dst[i] = values[c&15] * w.Scales.At(e/w.BlockSize)
	}
}

// rmsNorm writes y = x / sqrt(mean(x²) + eps) · w for each of the rows of x.
func rmsNorm(y, x, w []float32, rows int, eps float64) {
	d := len(w)
	for r := range rows {
		xr, yr := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
		var ss float32
		for _, v := range xr {
			ss += v * v
		}
		inv := float32(1 / math.Sqrt(float64(ss/float32(d))+eps))
		for i, v := range xr {
			yr[i] = w[i] * (v * inv)
		}
	}
}

func silu(x float32) float32 { return x / (1 + float32(math.Exp(float64(-x)))) }
