package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestStreamFill holds every kernel set this CPU runs, and pure Go, to the
// pure-Go twin on lengths and offsets that leave every kind of head,
// middle and tail.
func TestStreamFill(t *testing.T) {
	sets := append(vecVariants(), nil)
	for _, k := range sets {
		checkStreamFill(t, k)
	}
}

// checkStreamFill fills windows of a poisoned buffer with StreamFill
// under set k and requires exactly the window to hold v.
func checkStreamFill(t *testing.T, k *vecKernels) {
	t.Helper()
	r := rand.New(rand.NewPCG(61, 62))
	for _, n := range []int{0, 1, 15, 16, 31, 32, 33, 47, 64, 95, 200, 1000, 4099} {
		for _, off := range []int{0, 1, 5, 15, 16} {
			buf := alignedFloats(n + off + 40)
			for i := range buf {
				buf[i] = float32(r.NormFloat64())
			}
			poison := append([]float32(nil), buf...)
			v := float32(r.NormFloat64())
			runWith(k, func() { StreamFill(buf[off:off+n], v) })
			for i, got := range buf {
				want := poison[i]
				if i >= off && i < off+n {
					want = v
				}
				if math.Float32bits(got) != math.Float32bits(want) {
					name := "purego"
					if k != nil {
						name = k.name
					}
					t.Fatalf("%s: StreamFill of %d values at offset %d: element %d is %v, want %v", name, n, off, i, got, want)
				}
			}
		}
	}
}

// A large output's write bandwidth, the ceiling of Dequantize (cmd/nf4bench
// prints both).
func ExampleStreamFill() {
	buf := make([]float32, 1<<20)
	start := time.Now()
	StreamFill(buf, 0.5)
	gbps := float64(4*len(buf)) / float64(time.Since(start).Nanoseconds())
	fmt.Println(buf[0], buf[len(buf)-1], gbps > 0)
	// Output: 0.5 0.5 true
}
