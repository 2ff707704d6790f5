package kernels_test

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"testing"

	"github.com/nf4go/nf4/cpu"
	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptx"
	"github.com/nf4go/nf4/kernels/ptxsim"
)

// These tests run the printed PTX in the functional simulator and compare
// with references computed here from the canonical rules.

// quantRef applies the quantize rule: code = number of float32 midpoints
// strictly below x·(1/max(absmax, 1e-38)); an all-zero block gets code 7.
func quantRef(x []float32, b int) (codes []byte, absmax []float32) {
	mids := kernels.Midpoints()
	codes = make([]byte, len(x)/2)
	for blk := 0; blk < len(x)/b; blk++ {
		var m float32
		for _, v := range x[blk*b : (blk+1)*b] {
			m = max(m, float32(math.Abs(float64(v))))
		}
		absmax = append(absmax, m)
		r := 1 / max(m, 1e-38)
		for i := blk * b; i < (blk+1)*b; i++ {
			v := x[i] * r
			c := 0
			for _, md := range mids {
				if v > md {
					c++
				}
			}
			codes[i/2] |= byte(c) << (4 * (i % 2))
		}
	}
	return codes, absmax
}

func deqRef(codes []byte, absmax []float32, n, b int) []float32 {
	out := make([]float32, n)
	for i := range out {
		c := codes[i/2] >> (4 * (i % 2)) & 15
		out[i] = kernels.Codebook[c] * absmax[i/b]
	}
	return out
}

// problem holds one shape's inputs on a simulated device.
type problem struct {
	s          kernels.Shape
	dev        *ptxsim.Device
	w, x, dy   []float32
	codes      []byte
	absmax     []float32 // the scales the kernels see (decoded when dq)
	wq         []float32 // dequantized W
	dq         bool
	pw, pc, px ptxsim.Ptr
	pdy        ptxsim.Ptr
	scaleArgs  []uint64
}

func newProblem(t *testing.T, r *rand.Rand, m, n, k, b int, dq bool) *problem {
	p := &problem{s: kernels.Shape{M: m, N: n, K: k, BlockSize: b}, dev: ptxsim.NewDevice(), dq: dq}
	p.w = randn(r, n*k)
	for i := 0; i < b; i++ { // an all-zero block
		p.w[i] = 0
	}
	p.codes, p.absmax = quantRef(p.w, b)
	p.x = randn(r, m*k)
	p.dy = randn(r, m*n)
	p.pw = p.put(t, f32bytes(p.w))
	p.pc = p.put(t, p.codes)
	p.px = p.put(t, f32bytes(p.x))
	p.pdy = p.put(t, f32bytes(p.dy))
	if !dq {
		p.scaleArgs = []uint64{uint64(p.put(t, f32bytes(p.absmax)))}
	} else {
		// Nested scales: arbitrary 8-bit codes and map; the kernels must
		// decode absmax = map[q]·nested[i/256] + offset in float32.
		nb := len(p.absmax)
		q := make([]byte, nb) // not padded: the tail takes byte loads
		for i := range q {
			q[i] = byte(r.Intn(256))
		}
		nmap := make([]float32, 256)
		for i := range nmap {
			nmap[i] = float32(i)/255 - 0.5
		}
		nested := make([]float32, (nb+255)/256)
		for i := range nested {
			nested[i] = 1 + r.Float32()
		}
		// The offset leaves some decoded scales negative, as double
		// quantization does for a near-zero block beside large ones.
		off := float32(0.25)
		negative := false
		for i := range p.absmax {
			prod := nmap[q[i]] * nested[i/256]
			p.absmax[i] = prod + off
			negative = negative || p.absmax[i] < 0
		}
		if !negative && nb > 8 {
			t.Fatal("no negative decoded scale among the test's")
		}
		p.scaleArgs = []uint64{
			uint64(p.put(t, q)), uint64(p.put(t, f32bytes(nmap))), uint64(p.put(t, f32bytes(nested))),
			uint64(math.Float32bits(off)),
		}
	}
	p.wq = deqRef(p.codes, p.absmax, n*k, b)
	return p
}

func (p *problem) put(t *testing.T, b []byte) ptxsim.Ptr {
	ptr := p.dev.Alloc(len(b))
	if err := p.dev.Write(ptr, b); err != nil {
		t.Fatal(err)
	}
	return ptr
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		u := math.Float32bits(f)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return b
}

// args builds a launch list: head pointers, scale args, then tail values.
func (p *problem) args(head []ptxsim.Ptr, tail ...uint64) []uint64 {
	var a []uint64
	for _, h := range head {
		a = append(a, uint64(h))
	}
	a = append(a, p.scaleArgs...)
	return append(a, tail...)
}

func launch(t *testing.T, k kernels.Kernel, p *problem, args []uint64) {
	t.Helper()
	if len(args) != len(k.Params()) {
		t.Fatalf("%s: %d args for params %v", k.Name(), len(args), k.Params())
	}
	for _, tg := range []ptx.Target{ptx.SM80, ptx.SM90} {
		src, err := k.PTX(tg)
		if err != nil {
			t.Fatal(err)
		}
		mod, err := ptxsim.Load(src)
		if err != nil {
			t.Fatalf("%s %s: %v", k.Name(), tg, err)
		}
		kk, err := mod.Kernel(k.Name())
		if err != nil {
			t.Fatal(err)
		}
		l, err := k.Launch(p.s)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.dev.Launch(kk, l.Grid, l.Block, 0, args...); err != nil {
			t.Fatalf("%s %s: %v", k.Name(), tg, err)
		}
	}
}

func randn(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// relErr is the normwise relative error; 0 when both are zero (the
// all-zero block newProblem makes can be a whole problem), NaN when got
// holds a NaN (a poisoned output left unwritten), which fails every
// !(e <= tol) check.
func relErr(got []float32, want []float64) float64 {
	var num, den float64
	for i := range got {
		d := float64(got[i]) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if num == 0 && den == 0 {
		return 0
	}
	return math.Sqrt(num / den)
}

func (p *problem) poisoned(t *testing.T, n int) ptxsim.Ptr {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return p.put(t, f32bytes(v))
}

func (p *problem) read(t *testing.T, ptr ptxsim.Ptr, n int) []float32 {
	v, err := p.dev.ReadFloat32s(ptr, n)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var simShapes = []struct{ M, N, K, B int }{
	{1, 1, 64, 64},
	{3, 7, 96, 32},
	{17, 70, 128, 64},
	{2, 3, 1280, 64}, // gemv: a second, partly idle pass over K
	{130, 65, 64, 64},
}

func TestSimQuantize(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, c := range simShapes {
		p := newProblem(t, r, 1, c.N, c.K, c.B, false)
		q, _ := kernels.NewQuantize(c.B)
		qc, qa := p.dev.Alloc(len(p.codes)), p.dev.Alloc(4*len(p.absmax))
		launch(t, q, p, []uint64{uint64(p.pw), uint64(qc), uint64(qa), uint64(len(p.w))})
		gc, _ := p.dev.Read(qc, len(p.codes))
		for i := range gc {
			if gc[i] != p.codes[i] {
				t.Fatalf("%v: code byte %d = %#x, want %#x", c, i, gc[i], p.codes[i])
			}
		}
		for i, a := range p.read(t, qa, len(p.absmax)) {
			if a != p.absmax[i] {
				t.Fatalf("%v: absmax %d = %v, want %v", c, i, a, p.absmax[i])
			}
		}
	}
}

func TestSimQuantizeTies(t *testing.T) {
	// Values exactly on midpoints go to the lower code; ±absmax to 0 and 15.
	mids := kernels.Midpoints()
	x := make([]float32, 32)
	copy(x, mids[:])
	x[15], x[16] = 1, -1
	x[17] = 0
	p := &problem{s: kernels.Shape{N: 1, K: 32, BlockSize: 32}, dev: ptxsim.NewDevice()}
	px := p.put(t, f32bytes(x))
	want, _ := quantRef(x, 32)
	q, _ := kernels.NewQuantize(32)
	qc, qa := p.dev.Alloc(16), p.dev.Alloc(4)
	launch(t, q, p, []uint64{uint64(px), uint64(qc), uint64(qa), 32})
	got, _ := p.dev.Read(qc, 16)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("byte %d = %#x, want %#x", i, got[i], want[i])
		}
	}
	if want[0]&15 != 0 || want[3]>>4 != 7 || want[7]>>4 != 15 || want[8]&15 != 0 {
		t.Fatalf("reference tie rule broken: %x", want)
	}
}

// TestSimQuantizeMatchesCPU holds the GPU quantizer to the cpu package's
// bitsandbytes rule, byte for byte, for both code tables, on the corners
// of that rule: block maxima with values on and beside every midpoint, for
// ordinary, tiny, subnormal and huge maxima (where 1/absmax is subnormal),
// all-zero and negative-zero blocks and blocks of subnormals.
func TestSimQuantizeMatchesCPU(t *testing.T) {
	for _, c := range []struct {
		q  kernels.QuantType
		cq cpu.QuantType
	}{{kernels.NF4, cpu.NF4}, {kernels.FP4, cpu.FP4}} {
		r := rand.New(rand.NewSource(4))
		const b = 32
		vals := c.q.Values()
		sorted := append([]float32(nil), vals[:]...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		var x []float32
		block := func(a float32, vs []float32) {
			for len(vs) > 0 {
				n := min(b-1, len(vs))
				x = append(x, a)
				x = append(x, vs[:n]...)
				for range b - 1 - n {
					x = append(x, float32(r.Float64()*2-1)*a)
				}
				vs = vs[n:]
			}
		}
		for _, a := range []float32{1, 3, 1e-20, 2e-38, 8e-39, 1e-40, 8.6e37, 3e38, math.MaxFloat32} {
			var vs []float32
			for i := 0; i+1 < len(sorted); i++ {
				v := (sorted[i] + sorted[i+1]) / 2 * a
				for _, u := range []float32{v, math.Nextafter32(v, 0), math.Nextafter32(v, 2*v)} {
					if math.Abs(float64(u)) <= float64(a) {
						vs = append(vs, u, -u)
					}
				}
			}
			block(a, vs)
			block(-a, vs)
		}
		for range b {
			x = append(x, 0)
		}
		for range b {
			x = append(x, float32(math.Copysign(0, -1)))
		}
		for range b {
			x = append(x, float32(r.NormFloat64()*1e-41))
		}
		wantC, wantA := make([]byte, len(x)/2), make([]float32, len(x)/b)
		if err := c.cq.Quantize(wantC, wantA, x, len(x)/b, b, b); err != nil {
			t.Fatal(err)
		}
		p := &problem{s: kernels.Shape{N: len(x) / b, K: b, BlockSize: b}, dev: ptxsim.NewDevice()}
		px := p.put(t, f32bytes(x))
		q0, _ := kernels.NewQuantize(b)
		q, err := kernels.ForQuant(q0, c.q)
		if err != nil {
			t.Fatal(err)
		}
		qc, qa := p.dev.Alloc(len(wantC)), p.dev.Alloc(4*len(wantA))
		launch(t, q, p, []uint64{uint64(px), uint64(qc), uint64(qa), uint64(len(x))})
		got, _ := p.dev.Read(qc, len(wantC))
		for i := range got {
			if got[i] != wantC[i] {
				t.Fatalf("%v: code byte %d = %#02x, cpu %#02x (values %v %v, absmax %v)", c.q, i, got[i], wantC[i], x[2*i], x[2*i+1], wantA[2*i/b])
			}
		}
		for i, a := range p.read(t, qa, len(wantA)) {
			if math.Float32bits(a) != math.Float32bits(wantA[i]) {
				t.Fatalf("%v: absmax %d = %v, cpu %v", c.q, i, a, wantA[i])
			}
		}
	}
}

func TestSimDequantize(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, c := range simShapes {
		for _, dq := range []bool{false, true} {
			p := newProblem(t, r, 1, c.N, c.K, c.B, dq)
			n := len(p.w)
			for _, o := range []kernels.OutType{kernels.OutF32, kernels.OutF16, kernels.OutBF16} {
				d, _ := kernels.NewDequantize(o, c.B, dq)
				out := p.poisoned(t, n)
				launch(t, d, p, p.args([]ptxsim.Ptr{p.pc}, append([]uint64{uint64(out)}, uint64(n))...))
				if o == kernels.OutF32 {
					for i, v := range p.read(t, out, n) {
						if v != p.wq[i] {
							t.Fatalf("%v dq=%v: out[%d] = %v, want %v", c, dq, i, v, p.wq[i])
						}
					}
					continue
				}
				h, err := p.dev.ReadUint16s(out, n)
				if err != nil {
					t.Fatal(err)
				}
				for i, bits := range h {
					var got, tol float64
					if o == kernels.OutF16 {
						got, tol = f16(bits), 1.0/2048
					} else {
						got, tol = float64(math.Float32frombits(uint32(bits)<<16)), 1.0/256
					}
					if math.Abs(got-float64(p.wq[i])) > tol*math.Abs(float64(p.wq[i]))+1e-7 {
						t.Fatalf("%v %v: out[%d] = %v, want %v", c, o, i, got, p.wq[i])
					}
				}
			}
		}
	}
}

func f16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 31
	f := float64(h & 1023)
	if e == 0 {
		return sign * f * math.Pow(2, -24)
	}
	return sign * (1 + f/1024) * math.Pow(2, float64(e-15))
}

func forwardRef(p *problem) []float64 {
	s := p.s
	ref := make([]float64, s.M*s.N)
	for m := 0; m < s.M; m++ {
		for n := 0; n < s.N; n++ {
			var a float64
			for k := 0; k < s.K; k++ {
				a += float64(p.x[m*s.K+k]) * float64(p.wq[n*s.K+k])
			}
			ref[m*s.N+n] = a
		}
	}
	return ref
}

func TestSimMatmul(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, c := range simShapes {
		for _, dq := range []bool{false, true} {
			name := fmt.Sprintf("M%d_N%d_K%d_B%d_dq%v", c.M, c.N, c.K, c.B, dq)
			t.Run(name, func(t *testing.T) {
				p := newProblem(t, r, c.M, c.N, c.K, c.B, dq)
				s := p.s
				ref := forwardRef(p)
				sizes := []uint64{uint64(s.M), uint64(s.N), uint64(s.K)}
				if c.M <= kernels.MaxGemvM {
					g, _ := kernels.NewGemv(c.M, c.B, dq)
					y := p.poisoned(t, s.M*s.N)
					launch(t, g, p, p.args([]ptxsim.Ptr{p.px, p.pc}, uint64(y), uint64(s.N), uint64(s.K)))
					if e := relErr(p.read(t, y, s.M*s.N), ref); !(e <= 1e-5) {
						t.Errorf("gemv: normwise relative error %g", e)
					}
				}
				gm, _ := kernels.NewGemm(c.B, dq, false)
				y := p.poisoned(t, s.M*s.N)
				launch(t, gm, p, p.args([]ptxsim.Ptr{p.px, p.pc}, append([]uint64{uint64(y)}, sizes...)...))
				if e := relErr(p.read(t, y, s.M*s.N), ref); !(e <= 1e-5) {
					t.Errorf("gemm f32: normwise relative error %g", e)
				}
				tc, _ := kernels.NewGemmTC(c.B, dq)
				y = p.poisoned(t, s.M*s.N)
				launch(t, tc, p, p.args([]ptxsim.Ptr{p.put(t, bf16bytes(p.x)), p.pc}, append([]uint64{uint64(y)}, sizes...)...))
				if e := relErr(p.read(t, y, s.M*s.N), ref); !(e <= 1e-2) {
					t.Errorf("gemm bf16 tensor core: normwise relative error %g", e)
				}

				refT := make([]float64, s.M*s.K)
				for m := 0; m < s.M; m++ {
					for k := 0; k < s.K; k++ {
						var a float64
						for n := 0; n < s.N; n++ {
							a += float64(p.dy[m*s.N+n]) * float64(p.wq[n*s.K+k])
						}
						refT[m*s.K+k] = a
					}
				}
				gt, _ := kernels.NewGemm(c.B, dq, true)
				dx := p.poisoned(t, s.M*s.K)
				launch(t, gt, p, p.args([]ptxsim.Ptr{p.pdy, p.pc}, append([]uint64{uint64(dx)}, sizes...)...))
				if e := relErr(p.read(t, dx, s.M*s.K), refT); !(e <= 1e-5) {
					t.Errorf("gemm transposed: normwise relative error %g", e)
				}
				tt, _ := kernels.NewGemmTCTransposed(c.B, dq)
				dx = p.poisoned(t, s.M*s.K)
				launch(t, tt, p, p.args([]ptxsim.Ptr{p.pdy, p.pc}, append([]uint64{uint64(dx)}, sizes...)...))
				if e := relErr(p.read(t, dx, s.M*s.K), refT); !(e <= 1e-2) {
					t.Errorf("gemm transposed bf16 tensor core: normwise relative error %g", e)
				}
			})
		}
	}
}
