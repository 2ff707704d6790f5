package kernels

import (
	"math"
	"testing"

	"github.com/nf4go/nf4/kernels/ptx"
	"github.com/nf4go/nf4/kernels/ptxsim"
)

// TestALUCodebookEveryQuad runs aluCodebook.decode4 in the simulator on
// every one of the 65536 quads of four codes, with junk in the upper half
// of the word, for both tables, on both targets: each value must be the
// table's, bit for bit, as the lane codebook's shuffle would give it.
func TestALUCodebookEveryQuad(t *testing.T) {
	const threads, quads = 128, 1 << 16
	for _, q := range []QuantType{NF4, FP4} {
		for _, tg := range []ptx.Target{ptx.SM80, ptx.SM90} {
			src, err := build(tg, q, func(_ *ptx.Module, cb ptx.Sym) *ptx.Kernel {
				k := ptx.NewKernel("alu_decode4")
				k.MaxThreads(threads)
				out := k.LoadParam(k.Param("out"))
				alu := newALUCodebook(k, laneLUT(k, cb))
				i := globalThread(k, threads)
				word := k.Op("xor", ptx.B32, i, ptx.Imm(0x5a3c0000)) // the upper half is not read
				v := alu.decode4(k, word)
				for t, r := range v {
					k.St("global", ptx.B32, ptx.Addr{Base: index(k, out, k.Op("mad.lo", ptx.U32, i, ptx.Imm(4), ptx.Imm(t)), 4)}, r)
				}
				return k
			})
			if err != nil {
				t.Fatal(err)
			}
			mod, err := ptxsim.Load(src)
			if err != nil {
				t.Fatalf("%v %v: %v", q, tg, err)
			}
			kern, err := mod.Kernel("alu_decode4")
			if err != nil {
				t.Fatal(err)
			}
			dev := ptxsim.NewDevice()
			out := dev.Alloc(4 * 4 * quads)
			if err := dev.Launch(kern, [3]int{quads / threads, 1, 1}, [3]int{threads, 1, 1}, 0, uint64(out)); err != nil {
				t.Fatalf("%v %v: %v", q, tg, err)
			}
			got, err := dev.ReadUint32s(out, 4*quads)
			if err != nil {
				t.Fatal(err)
			}
			values := q.Values()
			for w := range quads {
				for c := range 4 {
					code := w >> (4 * c) & 15
					if want := math.Float32bits(values[code]); got[4*w+c] != want {
						t.Fatalf("%v %v: quad %#04x, code %d (%d): %#08x, want %#08x", q, tg, w, c, code, got[4*w+c], want)
					}
				}
			}
		}
	}
}
