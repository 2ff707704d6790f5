package ptxsim_test

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/nf4go/nf4/cpu"
	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptx"
	"github.com/nf4go/nf4/kernels/ptxsim"
)

// Every kernel the project ships runs in the simulator on awkward shapes and
// must match the CPU reference: dequantize and quantize bit for bit, the
// float32 matrix kernels within 1e-5 normwise of a float64 product, the bf16
// tensor-core kernel within 1e-2. Outputs are poisoned before each launch.

func allKernels() []kernels.Kernel {
	ks := kernels.All()
	haveTC := false
	for _, k := range ks {
		if _, ok := k.(*kernels.GemmTC); ok {
			haveTC = true
		}
	}
	if !haveTC {
		for _, dq := range []bool{false, true} {
			if k, err := kernels.NewGemmTC(64, dq); err == nil {
				ks = append(ks, k)
			}
		}
	}
	return ks
}

func TestKernelsMatchCPU(t *testing.T) {
	for _, kn := range allKernels() {
		t.Run(kn.Name(), func(t *testing.T) {
			// sm_90 text is run too when its body differs from sm_80's.
			var prev string
			for _, tg := range []ptx.Target{ptx.SM80, ptx.SM90} {
				if tg.SM < kn.MinSM() {
					continue
				}
				src, err := kn.PTX(tg)
				if err != nil {
					t.Fatal(err)
				}
				body := strings.SplitN(src, ".address_size", 2)
				if prev != "" && body[len(body)-1] == prev {
					continue
				}
				prev = body[len(body)-1]
				mod, err := ptxsim.Load(src)
				if err != nil {
					t.Fatal(err)
				}
				k, err := mod.Kernel(kn.Name())
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range shapesFor(kn) {
					if err := runShape(kn, k, s); err != nil {
						t.Errorf("%v M=%d N=%d K=%d: %v", tg, s.M, s.N, s.K, err)
					}
				}
			}
		})
	}
}

// quantOf returns the code table a kernel is generated for, as cpu names it.
func quantOf(kn kernels.Kernel) cpu.QuantType {
	q := kernels.NF4
	switch k := kn.(type) {
	case *kernels.Dequantize:
		q = k.Quant
	case *kernels.Quantize:
		q = k.Quant
	case *kernels.Gemv:
		q = k.Quant
	case *kernels.Gemm:
		q = k.Quant
	case *kernels.GemmTC:
		q = k.Quant
	case *kernels.GemmWG:
		q = k.Quant
	}
	if q == kernels.FP4 {
		return cpu.FP4
	}
	return cpu.NF4
}

func blockSizeOf(kn kernels.Kernel) (int, bool) {
	switch k := kn.(type) {
	case *kernels.Dequantize:
		return k.BlockSize, k.DoubleQuant
	case *kernels.Quantize:
		return k.BlockSize, false
	case *kernels.Gemv:
		return k.BlockSize, k.DoubleQuant
	case *kernels.Gemm:
		return k.BlockSize, k.DoubleQuant
	case *kernels.GemmTC:
		return k.BlockSize, k.DoubleQuant
	case *kernels.GemmWG:
		return k.BlockSize, k.DoubleQuant
	}
	return 0, false
}

// shapesFor lists N = 1, N off every tile, M = 1 and 17, K = B and K > B,
// kept small for the largest block size.
func shapesFor(kn kernels.Kernel) []kernels.Shape {
	B, _ := blockSizeOf(kn)
	ks := []int{B, 3 * B}
	if B >= 1024 {
		ks = []int{B}
	}
	var out []kernels.Shape
	add := func(m, n int) {
		for _, k := range ks {
			out = append(out, kernels.Shape{M: m, N: n, K: k, BlockSize: B})
		}
	}
	switch k := kn.(type) {
	case *kernels.Dequantize, *kernels.Quantize:
		for _, n := range []int{1, 3, 17} {
			add(0, n)
		}
	case *kernels.Gemv:
		for _, n := range []int{1, 5, 17} {
			add(k.M, n)
		}
	case *kernels.Gemm:
		add(1, 1)
		add(17, 70)
		if B < 1024 {
			add(65, 130)
		}
	case *kernels.GemmTC:
		// 128×128 tiles: M and N off the tile, one and several of them;
		// M = 1 and 2 run here although the backend sends them to the gemv.
		add(1, 1)
		add(2, 3)
		add(17, 70)
		if B < 1024 {
			add(130, 9)
			add(70, 129)
		}
		if B <= 64 {
			add(513, 130)
		}
	case *kernels.GemmWG:
		// 128×128 tiles as GemmTC's; the big shape only once (B = 64,
		// plain scales), the simulator's wgmma being slow.
		add(1, 1)
		add(17, 70)
		add(130, 129)
		if B == 64 && !k.DoubleQuant && k.Quant == kernels.NF4 && k.Rows != 256 {
			out = append(out, kernels.Shape{M: 513, N: 130, K: 4 * B, BlockSize: B})
		}
	}
	return out
}

// problem is one set of random inputs for a shape.
type problem struct {
	s   kernels.Shape
	w   cpu.Weights
	x   []float32 // activations (x, or dy for the transposed product)
	raw []float32 // the float32 matrix that was quantized
}

func newProblem(s kernels.Shape, q cpu.QuantType, dq bool, inCols int, seed int64) (*problem, error) {
	r := rand.New(rand.NewSource(seed))
	p := &problem{s: s}
	p.raw = make([]float32, s.N*s.K)
	for i := range p.raw {
		p.raw[i] = float32(r.NormFloat64())
	}
	// one all-zero block when there is more than one
	if len(p.raw) > s.BlockSize {
		for i := s.BlockSize; i < 2*s.BlockSize; i++ {
			p.raw[i] = 0
		}
	}
	codes := make([]byte, s.N*s.K/2)
	absmax := make([]float32, s.N*s.K/s.BlockSize)
	if err := q.Quantize(codes, absmax, p.raw, s.N, s.K, s.BlockSize); err != nil {
		return nil, err
	}
	p.w = cpu.Weights{Rows: s.N, Cols: s.K, BlockSize: s.BlockSize, Codes: codes, Scales: cpu.Scales{Absmax: absmax}, Type: q}
	if dq {
		p.w.Scales = cpu.DoubleQuantize(absmax)
	}
	p.x = make([]float32, max(s.M, 1)*inCols)
	for i := range p.x {
		p.x[i] = float32(r.NormFloat64())
	}
	return p, nil
}

// args binds buffers to the kernel's parameter names.
type args struct {
	d    *ptxsim.Device
	vals map[string]uint64
}

func (a *args) f32(name string, v []float32) ptxsim.Ptr {
	p := a.d.Alloc(4 * len(v))
	a.d.WriteFloat32s(p, v)
	a.vals[name] = uint64(p)
	return p
}

// bf16Bytes rounds v to bf16 as the host does for a kernel that reads
// x_bf16 (to nearest, ties to even), little-endian.
func bf16Bytes(v []float32) []byte {
	b := make([]byte, 2*len(v))
	for i, f := range v {
		u := math.Float32bits(f)
		h := uint16((u + 0x7fff + (u >> 16 & 1)) >> 16)
		b[2*i], b[2*i+1] = byte(h), byte(h>>8)
	}
	return b
}

func (a *args) bytes(name string, v []byte) ptxsim.Ptr {
	p := a.d.Alloc(len(v))
	a.d.Write(p, v)
	a.vals[name] = uint64(p)
	return p
}

func (a *args) scales(s cpu.Scales) {
	if !s.Double() {
		a.f32("absmax", s.Absmax)
		return
	}
	a.bytes("absmax_q", s.Q)
	a.f32("nested_map", s.Map[:])
	a.f32("nested_absmax", s.Nested)
	a.vals["nested_offset"] = uint64(math.Float32bits(s.Offset))
}

// poisoned allocates an output filled with NaN bytes.
func (a *args) poisoned(name string, n int) ptxsim.Ptr {
	b := make([]byte, n)
	for i := range b {
		b[i] = 0xff
	}
	return a.bytes(name, b)
}

func launch(kn kernels.Kernel, k *ptxsim.Kernel, s kernels.Shape, a *args) error {
	l, err := kn.Launch(s)
	if err != nil {
		return err
	}
	if l.Workspace > 0 {
		// Zeroed, as the host hands it over; the kernel must leave it so.
		a.bytes("workspace", make([]byte, l.Workspace))
	}
	var params []uint64
	for _, name := range kn.Params() {
		v, ok := a.vals[name]
		if !ok {
			return fmt.Errorf("no value for parameter %q", name)
		}
		params = append(params, v)
	}
	if err := a.d.Launch(k, l.Grid, l.Block, l.DynamicShared, params...); err != nil {
		return err
	}
	if l.Workspace > 0 {
		w, err := a.d.Read(ptxsim.Ptr(a.vals["workspace"]), l.Workspace)
		if err != nil {
			return err
		}
		for i, v := range w {
			if v != 0 {
				return fmt.Errorf("workspace byte %d is %#x after the launch", i, v)
			}
		}
	}
	return nil
}

func runShape(kn kernels.Kernel, k *ptxsim.Kernel, s kernels.Shape) error {
	_, dq := blockSizeOf(kn)
	d := ptxsim.NewDevice()
	a := &args{d: d, vals: map[string]uint64{}}
	switch kk := kn.(type) {
	case *kernels.Dequantize:
		p, err := newProblem(s, quantOf(kn), dq, 0, 1)
		if err != nil {
			return err
		}
		n := s.N * s.K
		a.bytes("codes", p.w.Codes)
		a.scales(p.w.Scales)
		a.vals["n"] = uint64(n)
		size := map[kernels.OutType]int{kernels.OutF32: 4, kernels.OutF16: 2, kernels.OutBF16: 2}[kk.Out]
		out := a.poisoned("out", size*n)
		if err := launch(kn, k, s, a); err != nil {
			return err
		}
		want := make([]float32, n)
		if err := cpu.Dequantize(want, &p.w); err != nil {
			return err
		}
		switch kk.Out {
		case kernels.OutF32:
			got, _ := d.ReadFloat32s(out, n)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					return fmt.Errorf("out[%d] = %v, want %v", i, got[i], want[i])
				}
			}
		default:
			got, _ := d.ReadUint16s(out, n)
			conv := ptxsim.HalfBits
			if kk.Out == kernels.OutBF16 {
				conv = ptxsim.BF16Bits
			}
			for i := range want {
				if got[i] != conv(want[i]) {
					return fmt.Errorf("out[%d] = %#04x, want %#04x (%v)", i, got[i], conv(want[i]), want[i])
				}
			}
		}
	case *kernels.Quantize:
		p, err := newProblem(s, quantOf(kn), false, 0, 2)
		if err != nil {
			return err
		}
		n := s.N * s.K
		a.f32("x", p.raw)
		codes := a.poisoned("codes", n/2)
		absmax := a.poisoned("absmax", 4*n/s.BlockSize)
		a.vals["n"] = uint64(n)
		if err := launch(kn, k, s, a); err != nil {
			return err
		}
		gotC, _ := d.Read(codes, n/2)
		gotA, _ := d.ReadFloat32s(absmax, n/s.BlockSize)
		for i, c := range p.w.Codes {
			if gotC[i] != c {
				return fmt.Errorf("codes[%d] = %#02x, want %#02x", i, gotC[i], c)
			}
		}
		for i, v := range p.w.Scales.Absmax {
			if math.Float32bits(gotA[i]) != math.Float32bits(v) {
				return fmt.Errorf("absmax[%d] = %v, want %v", i, gotA[i], v)
			}
		}
	case *kernels.Gemv, *kernels.Gemm, *kernels.GemmTC, *kernels.GemmWG:
		transposed := false
		switch g := kk.(type) {
		case *kernels.Gemm:
			transposed = g.Transposed
		case *kernels.GemmTC:
			transposed = g.Transposed
		}
		inCols, outCols := s.K, s.N
		inName, outName := "x", "y"
		if transposed {
			inCols, outCols, inName, outName = s.N, s.K, "dy", "dx"
		}
		p, err := newProblem(s, quantOf(kn), dq, inCols, 3)
		if err != nil {
			return err
		}
		if slices.Contains(kn.Params(), "x_bf16") {
			a.bytes("x_bf16", bf16Bytes(p.x))
		} else if tm, ok := kn.(kernels.TensorMapper); ok {
			// x as bf16 through the tensor map the kernel asks for,
			// passed by value.
			xh := a.bytes("x_bf16", bf16Bytes(p.x))
			m, err := tm.TensorMap("x_map", s, uint64(xh))
			if err != nil {
				return err
			}
			enc, err := m.Encode()
			if err != nil {
				return err
			}
			a.bytes("x_map", enc[:])
		} else {
			a.f32(inName, p.x)
		}
		a.bytes("codes", p.w.Codes)
		a.scales(p.w.Scales)
		out := a.poisoned(outName, 4*s.M*outCols)
		a.vals["m"], a.vals["n"], a.vals["k"] = uint64(s.M), uint64(s.N), uint64(s.K)
		if err := launch(kn, k, s, a); err != nil {
			return err
		}
		got, _ := d.ReadFloat32s(out, s.M*outCols)
		W := make([]float64, s.N*s.K)
		if err := cpu.Dequantize64(W, &p.w); err != nil {
			return err
		}
		ref := make([]float64, s.M*outCols)
		for m := 0; m < s.M; m++ {
			for n := 0; n < s.N; n++ {
				for kk := 0; kk < s.K; kk++ {
					if transposed {
						ref[m*s.K+kk] += float64(p.x[m*s.N+n]) * W[n*s.K+kk]
					} else {
						ref[m*s.N+n] += float64(p.x[m*s.K+kk]) * W[n*s.K+kk]
					}
				}
			}
		}
		tol := 1e-5
		switch kk.(type) {
		case *kernels.GemmTC, *kernels.GemmWG:
			tol = 1e-2
		}
		var num, den float64
		for i := range ref {
			if math.IsNaN(float64(got[i])) {
				return fmt.Errorf("output %d not written (NaN)", i)
			}
			num += (float64(got[i]) - ref[i]) * (float64(got[i]) - ref[i])
			den += ref[i] * ref[i]
		}
		if e := math.Sqrt(num / den); e > tol {
			return fmt.Errorf("normwise relative error %.3g > %g", e, tol)
		}
	default:
		return fmt.Errorf("no reference for kernel type %T", kn)
	}
	return nil
}
