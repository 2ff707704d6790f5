package perf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptxsim"
)

// buffer is one kernel argument of the full-size problem.
type buffer struct {
	name  string
	bytes int64
	write bool // the kernel writes it (an output), else reads it
	// scratch is a workspace the kernel leaves as it found it (split-K
	// partial sums): not compulsory DRAM traffic, its L2 traffic is
	// what the simulated blocks make of it.
	scratch bool
	gen     func(off int64, p []byte)
}

// arguments sizes every parameter of k for shape s, by the names the
// kernels declare, allocates the buffers as generated memory on dev and
// returns the launch arguments and the buffers. A kernel with a parameter
// named otherwise needs a rule here.
func arguments(dev *ptxsim.Device, k kernels.Kernel, s kernels.Shape) ([]uint64, []buffer, error) {
	nk := int64(s.N) * int64(s.K)
	blocks := int64(0)
	if s.BlockSize > 0 {
		blocks = nk / int64(s.BlockSize)
	}
	mk, mn := int64(s.M)*int64(s.K), int64(s.M)*int64(s.N)
	deq, isDeq := k.(*kernels.Dequantize)
	_, isQuant := k.(*kernels.Quantize)
	var args []uint64
	var bufs []buffer
	add := func(name string, n int64, write bool, gen func(int64, []byte)) {
		if write {
			gen = func(int64, []byte) {}
		}
		b := buffer{name: name, bytes: n, write: write, gen: gen}
		bufs = append(bufs, b)
		args = append(args, uint64(dev.AllocGenerated(n, gen)))
	}
	for _, name := range k.Params() {
		switch name {
		case "x":
			if isQuant {
				add(name, 4*nk, false, genFloats(-1, 1))
			} else {
				add(name, 4*mk, false, genFloats(-1, 1))
			}
		case "x_bf16": // the timing does not depend on the values
			add(name, 2*mk, false, genFloats(-1, 1))
		case "x_map": // x as bf16 behind the tensor map the kernel asks for
			tm, ok := k.(kernels.TensorMapper)
			if !ok {
				return nil, nil, fmt.Errorf("perf: %s: x_map without a TensorMap method", k.Name())
			}
			x := dev.AllocGenerated(2*mk, genFloats(-1, 1))
			bufs = append(bufs, buffer{name: "x_bf16", bytes: 2 * mk, gen: genFloats(-1, 1)})
			m, err := tm.TensorMap(name, s, uint64(x))
			if err != nil {
				return nil, nil, err
			}
			enc, err := m.Encode()
			if err != nil {
				return nil, nil, err
			}
			p := dev.Alloc(len(enc))
			if err := dev.Write(p, enc[:]); err != nil {
				return nil, nil, err
			}
			args = append(args, uint64(p))
		case "dy":
			add(name, 4*mn, false, genFloats(-1, 1))
		case "codes":
			add(name, nk/2, isQuant, genBytes)
		case "absmax":
			add(name, 4*blocks, isQuant, genFloats(0.5, 1.5))
		case "absmax_q":
			add(name, blocks, false, genBytes)
		case "nested_map":
			add(name, 4*256, false, genFloats(-1, 1))
		case "nested_absmax":
			add(name, 4*((blocks+255)/256), false, genFloats(0.5, 1.5))
		case "nested_offset":
			args = append(args, uint64(math.Float32bits(0.25)))
		case "y":
			add(name, 4*mn, true, nil)
		case "dx":
			add(name, 4*mk, true, nil)
		case "out":
			if !isDeq {
				return nil, nil, fmt.Errorf("perf: %s: parameter out is known only for dequantize", k.Name())
			}
			size := int64(4)
			if deq.Out != kernels.OutF32 {
				size = 2
			}
			add(name, size*nk, true, nil)
		case "m":
			args = append(args, uint64(s.M))
		case "n":
			if isDeq || isQuant {
				args = append(args, uint64(nk)) // the number of values
			} else {
				args = append(args, uint64(s.N))
			}
		case "k":
			args = append(args, uint64(s.K))
		case "workspace":
			l, err := k.Launch(s)
			if err != nil {
				return nil, nil, err
			}
			b := buffer{name: name, bytes: int64(l.Workspace), scratch: true}
			bufs = append(bufs, b)
			args = append(args, uint64(dev.AllocGenerated(int64(l.Workspace), func(_ int64, p []byte) { clear(p) })))
		default:
			return nil, nil, fmt.Errorf("perf: %s: no rule sizes parameter %q (add one in kernels/perf/bind.go)", k.Name(), name)
		}
	}
	return args, bufs, nil
}

// mix64 is a 64-bit hash (splitmix64's finaliser), so generated data is
// the same on every run and for every page order.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func genBytes(off int64, p []byte) {
	for i := 0; i < len(p); i += 8 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], mix64(uint64(off+int64(i))))
		copy(p[i:], b[:])
	}
}

// genFloats makes float32 values in [lo, hi) (the buffers' offsets are
// multiples of 4).
func genFloats(lo, hi float32) func(int64, []byte) {
	return func(off int64, p []byte) {
		for i := 0; i+4 <= len(p); i += 4 {
			u := float32(mix64(uint64(off+int64(i)))>>40) / (1 << 24)
			binary.LittleEndian.PutUint32(p[i:], math.Float32bits(lo+(hi-lo)*u))
		}
	}
}
