package llama

import (
	"fmt"
	"hash"
	"math"
	"runtime"
	"sync"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// attnOp is causal grouped-query self-attention with rotary embeddings over
// a batch of sequences of equal length: its input is the concatenated
// projections [q | k | v] of every token, [batch·seq, (H+2·KV)·hd], its
// output the heads' results [batch·seq, H·hd]. Positions run 0…seq−1.
type attnOp struct {
	baseOp
	heads, kvHeads, headDim, seq int
	rope                         *rope
}

func (op attnOp) Arity() int                { return 1 }
func (op attnOp) Type() hm.Type             { return fnType(matrixType(), matrixType()) }
func (op attnOp) WriteHash(h hash.Hash)     { fmt.Fprint(h, op.String()) }
func (op attnOp) Hashcode() uint32          { return hashOp(op) }
func (op attnOp) DiffWRT(inputs int) []bool { return []bool{true} }
func (op attnOp) String() string {
	return fmt.Sprintf("Attention(%d,%d,%d,%d,%p)", op.heads, op.kvHeads, op.headDim, op.seq, op.rope)
}

func (op attnOp) width() int { return (op.heads + 2*op.kvHeads) * op.headDim }

func (op attnOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op, ds, 1)
	if err != nil {
		return nil, err
	}
	if len(s[0]) != 2 || s[0][1] != op.width() || s[0][0]%op.seq != 0 {
		return nil, fmt.Errorf("%v: input %v, want [batch·%d, %d]", op, s[0], op.seq, op.width())
	}
	return tensor.Shape{s[0][0], op.heads * op.headDim}, nil
}

// rotated returns q and k of every token with RoPE applied, and v, each
// [rows, heads·hd] or [rows, kv·hd].
func (op attnOp) rotated(qkv []float32, rows int) (q, k, v, cos, sin []float32) {
	hd, half, w := op.headDim, op.headDim/2, op.width()
	qd, kd := op.heads*hd, op.kvHeads*hd
	q, k, v = make([]float32, rows*qd), make([]float32, rows*kd), make([]float32, rows*kd)
	cos, sin = make([]float32, op.seq*half), make([]float32, op.seq*half)
	for t := range op.seq {
		op.rope.table(cos[t*half:(t+1)*half], sin[t*half:(t+1)*half], t)
	}
	for r := range rows {
		src := qkv[r*w : (r+1)*w]
		copy(q[r*qd:(r+1)*qd], src[:qd])
		copy(k[r*kd:(r+1)*kd], src[qd:qd+kd])
		copy(v[r*kd:(r+1)*kd], src[qd+kd:])
		t := r % op.seq
		cs, sn := cos[t*half:(t+1)*half], sin[t*half:(t+1)*half]
		for h := range op.heads {
			applyRope(q[r*qd+h*hd:r*qd+(h+1)*hd], cs, sn)
		}
		for h := range op.kvHeads {
			applyRope(k[r*kd+h*hd:r*kd+(h+1)*hd], cs, sn)
		}
	}
	return q, k, v, cos, sin
}

// probs fills p [seq·seq] with the causal softmax of one head of one
// sequence: p[t·seq+s] for s ≤ t.
func (op attnOp) probs(p, q, k []float32, b, h int) {
	hd, T := op.headDim, op.seq
	qd, kd := op.heads*hd, op.kvHeads*hd
	kh := h / (op.heads / op.kvHeads)
	scale := float32(1 / math.Sqrt(float64(hd)))
	for t := range T {
		qt := q[(b*T+t)*qd+h*hd : (b*T+t)*qd+(h+1)*hd]
		row := p[t*T : (t+1)*T]
		best := float32(math.Inf(-1))
		for s := 0; s <= t; s++ {
			ks := k[(b*T+s)*kd+kh*hd : (b*T+s)*kd+(kh+1)*hd]
			var dot float32
			for i, x := range qt {
				dot += x * ks[i]
			}
			row[s] = dot * scale
			best = max(best, row[s])
		}
		var sum float32
		for s := 0; s <= t; s++ {
			row[s] = exp32(row[s] - best)
			sum += row[s]
		}
		inv := 1 / sum
		for s := 0; s <= t; s++ {
			row[s] *= inv
		}
		clear(row[t+1:])
	}
}

// each runs fn for every (sequence, kv head) pair, split across cores.
func each(n int, fn func(i int, p []float32), size int) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]float32, size)
			for i := range next {
				fn(i, p)
			}
		}()
	}
	wg.Wait()
}

func (op attnOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := floats(op, vs, 1)
	if err != nil {
		return nil, err
	}
	rows := vs[0].Shape()[0]
	hd, T := op.headDim, op.seq
	qd, kd := op.heads*hd, op.kvHeads*hd
	q, k, v, _, _ := op.rotated(in[0], rows)
	out := newMatrix(rows, qd)
	o := out.Data().([]float32)
	groups := op.heads / op.kvHeads
	each(rows/T*op.heads, func(i int, p []float32) {
		b, h := i/op.heads, i%op.heads
		kh := h / groups
		op.probs(p, q, k, b, h)
		for t := range T {
			ot := o[(b*T+t)*qd+h*hd : (b*T+t)*qd+(h+1)*hd]
			for s := 0; s <= t; s++ {
				w := p[t*T+s]
				vs := v[(b*T+s)*kd+kh*hd : (b*T+s)*kd+(kh+1)*hd]
				for j, x := range vs {
					ot[j] += w * x
				}
			}
		}
	}, T*T)
	return out, nil
}

func (op attnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(attnBackOp{op}, inputs[0], grad)
	return G.Nodes{d}, err
}

// attnBackOp returns the gradient of attnOp's input from qkv and dy,
// recomputing the attention probabilities rather than keeping them.
type attnBackOp struct{ fwd attnOp }

func (op attnBackOp) Arity() int            { return 2 }
func (op attnBackOp) Type() hm.Type         { return fnType(matrixType(), matrixType(), matrixType()) }
func (op attnBackOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op attnBackOp) Hashcode() uint32      { return hashOp(op) }
func (op attnBackOp) String() string        { return "Back" + op.fwd.String() }
func (op attnBackOp) ReturnsPtr() bool      { return false }
func (op attnBackOp) CallsExtern() bool     { return false }
func (op attnBackOp) OverwritesInput() int  { return -1 }

func (op attnBackOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(op, ds, 2)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op attnBackOp) Do(vs ...G.Value) (G.Value, error) {
	f := op.fwd
	in, err := floats(op, vs, 2)
	if err != nil {
		return nil, err
	}
	rows := vs[0].Shape()[0]
	hd, half, T, w := f.headDim, f.headDim/2, f.seq, f.width()
	qd, kd := f.heads*hd, f.kvHeads*hd
	q, k, v, cos, sin := f.rotated(in[0], rows)
	dy := in[1]
	out := newMatrix(rows, w)
	dqkv := out.Data().([]float32)
	groups := f.heads / f.kvHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	// One worker per (sequence, kv head): the heads of a group add into
	// the same dk and dv rows.
	each(rows/T*f.kvHeads, func(i int, buf []float32) {
		b, kh := i/f.kvHeads, i%f.kvHeads
		p, dp := buf[:T*T], buf[T*T:]
		for h := kh * groups; h < (kh+1)*groups; h++ {
			f.probs(p, q, k, b, h)
			for t := range T {
				dyt := dy[(b*T+t)*qd+h*hd : (b*T+t)*qd+(h+1)*hd]
				var sum float32
				for s := 0; s <= t; s++ {
					vs := v[(b*T+s)*kd+kh*hd : (b*T+s)*kd+(kh+1)*hd]
					var d float32
					for j, x := range vs {
						d += dyt[j] * x
					}
					dp[s] = d
					sum += p[t*T+s] * d
					dv := dqkv[(b*T+s)*w+qd+kd+kh*hd : (b*T+s)*w+qd+kd+(kh+1)*hd]
					pw := p[t*T+s]
					for j, x := range dyt {
						dv[j] += pw * x
					}
				}
				dq := dqkv[(b*T+t)*w+h*hd : (b*T+t)*w+(h+1)*hd]
				qt := q[(b*T+t)*qd+h*hd : (b*T+t)*qd+(h+1)*hd]
				for s := 0; s <= t; s++ {
					ds := p[t*T+s] * (dp[s] - sum) * scale
					if ds == 0 {
						continue
					}
					ks := k[(b*T+s)*kd+kh*hd : (b*T+s)*kd+(kh+1)*hd]
					dk := dqkv[(b*T+s)*w+qd+kh*hd : (b*T+s)*w+qd+(kh+1)*hd]
					for j := range hd {
						dq[j] += ds * ks[j]
						dk[j] += ds * qt[j]
					}
				}
			}
		}
		// carry dq and dk back through the rotation
		for t := range T {
			cs, sn := cos[t*half:(t+1)*half], sin[t*half:(t+1)*half]
			r := (b*T + t) * w
			for h := kh * groups; h < (kh+1)*groups; h++ {
				unapplyRope(dqkv[r+h*hd:r+(h+1)*hd], cs, sn)
			}
			unapplyRope(dqkv[r+qd+kh*hd:r+qd+(kh+1)*hd], cs, sn)
		}
	}, T*T+T)
	return out, nil
}
