package main

import (
	"strings"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/nf4go/nf4/cpu"
)

// baseline is a float32 BLAS run on the dequantized matrix.
type baseline struct {
	name   string
	impl   blas32Impl
	settle time.Duration // pause after each call before timing the next
	wake   bool          // run a small product first: its threads sleep between rounds
}

type blas32Impl interface {
	Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int)
	Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

// baselines lists gonum's native BLAS and any others built in.
var baselines = []baseline{{"gonum", gonum.Implementation{}, 0, false}}

func baselineNames() string {
	s := ""
	for i, b := range baselines {
		if i > 0 {
			s += ", "
		}
		s += b.name
	}
	return s
}

// wake returns a small cache-resident product on impl, to get a threaded
// library's workers running before a timed call, as they would be in a
// loop of calls.
func wake(impl blas32Impl) func() {
	const n = 256
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	return func() { impl.Sgemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, a, n, b, n, 0, c, n) }
}

// linearBench times out[M,N] = x·Wᵀ for M = 1, 8, 64 with NF4 (under each
// kernel set of sets.at(M), and for M > 1 in the bf16 mode where the CPU
// has bf16 kernels) and every float32 baseline; GFLOP/s are shown as a
// fraction of the arithmetic peak pk.
func linearBench(n, k int, batches []int, reps int, memGBps float64, pk cpu.Peak, sets kernelChoice) ([]result, error) {
	src := randomMatrix(n, k, uint64(n))
	B := cpu.DefaultBlockSize
	w0 := &cpu.Weights{Rows: n, Cols: k, BlockSize: B, Codes: make([]byte, n*k/2), Scales: cpu.Scales{Absmax: make([]float32, n*k/B)}}
	if err := cpu.Quantize(w0.Codes, w0.Scales.Absmax, src, n, k, B); err != nil {
		return nil, err
	}
	f32 := src // reuse: the float32 baselines run on the dequantized matrix
	if err := cpu.Dequantize(f32, w0); err != nil {
		return nil, err
	}
	nf4Bytes := len(w0.Codes) + w0.Scales.Bytes()
	ws := []*cpu.Weights{w0}
	for range setsFor(nf4Bytes) - 1 {
		c := *w0
		c.Codes = append([]byte(nil), w0.Codes...)
		c.Scales.Absmax = append([]float32(nil), w0.Scales.Absmax...)
		ws = append(ws, &c)
	}
	fs := [][]float32{f32}
	for range setsFor(4*len(f32)) - 1 {
		fs = append(fs, append([]float32(nil), f32...))
	}

	var out []result
	for _, m := range batches {
		x := randomMatrix(m, k, 7)
		y := make([]float32, m*n)
		flops := 2 * float64(m) * float64(n) * float64(k)
		mk := func(impl string, bytes int, st stats) result {
			r := result{Op: "linear", N: n, K: k, M: m, Impl: impl, NsPerOp: st.med, Spread: [2]float64{st.lo, st.hi}, Reps: st.n}
			if m == 1 {
				r.GBps = float64(bytes) / st.med
			} else {
				r.GFLOPs = flops / st.med
			}
			return r
		}
		var names []string
		var bytes []int
		var ops []timedOp
		for _, set := range sets.at(m) {
			names, bytes = append(names, "nf4-"+set), append(bytes, nf4Bytes)
			ops = append(ops, timedOp{run: withKernels(set, func(i int) {
				if err := cpu.Linear(y, x, m, ws[i%len(ws)]); err != nil {
					panic(err)
				}
			})})
		}
		// The bf16 mode, with the default kernel set: its own row, held
		// to the bf16 peak (at M = 1 to the read bandwidth), with its own
		// ratios to the baselines.
		bf16 := -1
		if cpu.BF16Kernels() {
			bf16 = len(ops)
			names, bytes = append(names, "nf4-bf16"), append(bytes, nf4Bytes)
			ops = append(ops, timedOp{run: func(i int) {
				if err := cpu.LinearBF16(y, x, m, ws[i%len(ws)]); err != nil {
					panic(err)
				}
			}})
		}
		for _, b := range baselines {
			names, bytes = append(names, b.name+"-f32"), append(bytes, 4*n*k)
			op := timedOp{run: func(i int) {
				a := fs[i%len(fs)]
				if m == 1 {
					b.impl.Sgemv(blas.NoTrans, n, k, 1, a, k, x, 1, 0, y, 1)
				} else {
					b.impl.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, x, k, a, k, 0, y, n)
				}
			}, settle: b.settle}
			if b.wake {
				op.prep = wake(b.impl)
			}
			ops = append(ops, op)
		}
		st := timedTogether(reps, ops...)
		rows := make([]result, len(ops))
		for j := range ops {
			r := mk(names[j], bytes[j], st[j])
			switch {
			case m == 1 && (j == 0 || j == bf16) && memGBps > 0:
				r.FracPeak = r.GBps / memGBps
			case m > 1 && j == bf16 && pk.BF16 > 0:
				r.FracFMA = r.GFLOPs / pk.BF16
			case m > 1 && j != bf16 && pk.Float32 > 0:
				r.FracFMA = r.GFLOPs / pk.Float32
			}
			if names[j] == "nf4-purego" {
				r.Note = "pure-Go fallback"
			}
			rows[j] = r
		}
		// Ratios: of the first set to every other row, and of the bf16
		// mode to the float32 baselines.
		for _, j := range []int{0, bf16} {
			if j < 0 {
				continue
			}
			rows[j].Speedup = map[string]float64{}
			for i := range ops {
				if i == j || i == bf16 || j == bf16 && strings.HasPrefix(names[i], "nf4-") {
					continue
				}
				rows[j].Speedup[strings.TrimSuffix(names[i], "-f32")] = st[i].med / st[j].med
			}
		}
		out = append(out, rows...)
	}
	return out, nil
}
