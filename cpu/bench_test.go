package cpu

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Each benchmark runs the NF4 operation beside the same operation on the
// dequantized float32 matrix with gonum's native BLAS, so the ratio comes
// from one run: go test -bench . -run ^$ ./cpu
const benchN, benchK = 4096, 4096

var benchWeights struct {
	w   *Weights
	src []float32
	f32 []float32
}

func benchSetup(b *testing.B) (*Weights, []float32, []float32) {
	if benchWeights.w == nil {
		r := rand.New(rand.NewPCG(1, 1))
		w, src := randomWeights(b, r, benchN, benchK, DefaultBlockSize, false)
		f := make([]float32, len(src))
		if err := Dequantize(f, w); err != nil {
			b.Fatal(err)
		}
		benchWeights.w, benchWeights.src, benchWeights.f32 = w, src, f
	}
	return benchWeights.w, benchWeights.src, benchWeights.f32
}

func BenchmarkQuantize(b *testing.B) {
	w, src, _ := benchSetup(b)
	codes, absmax := make([]byte, len(w.Codes)), make([]float32, w.Blocks())
	benchSets(b, true, func(b *testing.B) {
		b.SetBytes(int64(4 * len(src)))
		for b.Loop() {
			if err := Quantize(codes, absmax, src, benchN, benchK, DefaultBlockSize); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gonum-f32-copy", withCPUTime(func(b *testing.B) { benchCopy(b, src) }))
}

func BenchmarkDequantize(b *testing.B) {
	w, src, _ := benchSetup(b)
	dst := make([]float32, len(src))
	benchSets(b, true, func(b *testing.B) {
		b.SetBytes(int64(4 * len(dst)))
		for b.Loop() {
			if err := Dequantize(dst, w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gonum-f32-copy", withCPUTime(func(b *testing.B) { benchCopy(b, src) }))
	// The ceiling: the same bytes written by StreamFill on every thread.
	b.Run("stream-fill", withCPUTime(func(b *testing.B) {
		b.SetBytes(int64(4 * len(dst)))
		for b.Loop() {
			parallelFor(len(dst)>>16, 1, func(lo, hi int) { StreamFill(dst[lo<<16:hi<<16], 1.5) })
		}
	}))
}

// benchSets runs f as "nf4-SET" under every vector kernel set this CPU
// runs, best first, and under pure Go too if withPurego, so the sets are
// compared in one run.
func benchSets(b *testing.B, withPurego bool, f func(b *testing.B)) {
	saved := active
	defer func() { active = saved }()
	sets := vecVariants()
	if withPurego || len(sets) == 0 {
		sets = append(sets, nil)
	}
	for _, k := range sets {
		active = k
		b.Run("nf4-"+Kernels(), withCPUTime(f))
	}
}

// withCPUTime returns f reporting also the CPU time per operation (all
// threads), which a busy host disturbs less than wall time.
func withCPUTime(f func(b *testing.B)) func(b *testing.B) {
	return func(b *testing.B) {
		t0, ok := cpuTime()
		f(b)
		if t1, ok1 := cpuTime(); ok && ok1 && b.N > 0 {
			b.ReportMetric(float64(t1-t0)/1e3/float64(b.N), "cpu-µs/op")
		}
	}
}

// benchCopy is the floor for (de)quantization: moving the float32 matrix.
func benchCopy(b *testing.B, src []float32) {
	dst := make([]float32, len(src))
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		gonum.Implementation{}.Scopy(len(src), src, 1, dst, 1)
	}
}

func BenchmarkGEMV(b *testing.B) { benchLinear(b, 1) }

func BenchmarkGEMV8(b *testing.B) { benchLinear(b, 8) }

func BenchmarkGEMM(b *testing.B) { benchLinear(b, 64) }

func benchLinear(b *testing.B, m int) {
	w, _, f32 := benchSetup(b)
	r := rand.New(rand.NewPCG(2, 2))
	x := make([]float32, m*benchK)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	out := make([]float32, m*benchN)
	flops := float64(2 * m * benchN * benchK)
	benchSets(b, m == 1, func(b *testing.B) {
		for b.Loop() {
			if err := Linear(out, x, m, w); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("gonum-f32", withCPUTime(func(b *testing.B) {
		impl := gonum.Implementation{}
		for b.Loop() {
			if m == 1 {
				impl.Sgemv(blas.NoTrans, benchN, benchK, 1, f32, benchK, x, 1, 0, out, 1)
			} else {
				impl.Sgemm(blas.NoTrans, blas.Trans, m, benchN, benchK, 1, x, benchK, f32, benchK, 0, out, benchN)
			}
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}))
}

// BenchmarkGEMMBackward times dx = dy·W at M = 64.
func BenchmarkGEMMBackward(b *testing.B) {
	const m = 64
	w, _, f32 := benchSetup(b)
	r := rand.New(rand.NewPCG(3, 3))
	dy := make([]float32, m*benchN)
	for i := range dy {
		dy[i] = float32(r.NormFloat64())
	}
	dx := make([]float32, m*benchK)
	flops := float64(2 * m * benchN * benchK)
	benchSets(b, false, func(b *testing.B) {
		for b.Loop() {
			if err := LinearBackward(dx, dy, m, w); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("gonum-f32", withCPUTime(func(b *testing.B) {
		for b.Loop() {
			gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, benchK, benchN, 1, dy, benchN, f32, benchK, 0, dx, benchK)
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}))
}
