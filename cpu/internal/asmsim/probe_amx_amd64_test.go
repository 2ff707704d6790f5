//go:build amd64 && !purego

package asmsim

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAMXProbesSimulated runs the AMX probes in the simulator on every
// machine, against TDPBF16PS's pseudo-code in Go on finite inputs, so that
// the probes themselves are right before a CPU with AMX first runs them
// natively (TestProbesMatchCPU).
func TestAMXProbesSimulated(t *testing.T) {
	p := loadProbes(t)
	r := rand.New(rand.NewPCG(9, 10))
	for trial := range 20 {
		var x, y, z [64]byte
		// x and y are 32 bf16 values each, z 16 float32 ones.
		for i := range 32 {
			binary.LittleEndian.PutUint16(x[2*i:], randomBF16(r))
			binary.LittleEndian.PutUint16(y[2*i:], randomBF16(r))
		}
		for i := range 16 {
			binary.LittleEndian.PutUint32(z[4*i:], math.Float32bits(float32(r.NormFloat64())))
		}
		for _, name := range []string{"TDPBF16PS", "TILEZERO"} {
			m := NewMachine(p)
			out := make([]byte, 128)
			for i := range out {
				out[i] = byte(trial + i)
			}
			ax, bx, cx := m.Map(x[:], 0), m.Map(y[:], 0), m.Map(z[:], 0)
			dx := m.Map(out, 0)
			if _, err := m.Call(name, ax, bx, cx, dx, 0); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := m.Bytes(dx)
			for n := range 16 {
				// Tile 2 is y in each of its 16 rows (stride 0).
				var want float32
				if name == "TDPBF16PS" {
					want = math.Float32frombits(binary.LittleEndian.Uint32(z[4*n:]))
					for k := range 16 {
						for h := range 2 {
							want += float32(bf16At(x[4*k+2*h:]) * bf16At(y[4*n+2*h:]))
						}
					}
				}
				if g := math.Float32frombits(binary.LittleEndian.Uint32(got[64+4*n:])); g != want {
					t.Fatalf("%s: lane %d is %v, want %v", name, n, g, want)
				}
			}
		}
	}
}
