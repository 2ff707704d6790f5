//go:build amd64 && !purego

package asmsim

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"
)

type vectorProbe struct {
	name   string
	fn     func(x, y, z *[64]byte, out *[128]byte, k uint64) uint64
	need   string
	floats bool
}

type scalarProbe struct {
	name string
	fn   func(a, b uint64) (r, flags uint64)
}

func hasFeature(need string) bool {
	switch need {
	case "avx2":
		return cpu.X86.HasAVX2 && cpu.X86.HasFMA
	case "avx512":
		return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL
	case "avx512bf16":
		return hasFeature("avx512") && cpu.X86.HasAVX512BF16
	case "amx":
		// AMX-BF16, and the OS's grant of the tile state to this process.
		return hasFeature("avx512") && cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16 && amxGranted()
	}
	return false
}

func loadProbes(t *testing.T) *Program {
	t.Helper()
	src, err := os.ReadFile("internal/probe/probe_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("probe_amd64.s", string(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fillProbe gives a probe input: floats of many magnitudes and signs (with
// zeros, equal lanes, denormals, infinities and NaNs), or random bits with some all-zero,
// all-one and repeated words.
func fillProbe(r *rand.Rand, b *[64]byte, floats bool, other *[64]byte) {
	for i := 0; i < 16; i++ {
		var v uint32
		if floats {
			f := float32(math.Ldexp(r.NormFloat64(), r.IntN(20)-10))
			switch r.IntN(14) {
			case 0:
				f = 0
			case 1:
				f = float32(math.Copysign(0, -1))
			case 2:
				f = math.Float32frombits(uint32(r.IntN(1 << 23)))
			case 3:
				f = f32(other, i)
			case 4: // quiet and signalling NaNs with payloads
				f = math.Float32frombits(0x7f800001 | r.Uint32()&0x807fffff)
			case 5:
				f = float32(math.Inf(1 - 2*r.IntN(2)))
			}
			v = math.Float32bits(f)
		} else {
			v = r.Uint32()
			switch r.IntN(10) {
			case 0:
				v = 0
			case 1:
				v = ^uint32(0)
			case 2:
				v = u32(other, i)
			case 3:
				v &= 0x8000001f
			}
		}
		setU32(b, i, v)
	}
}

// aligned128 returns a 128-byte buffer on a 64-byte boundary.
func aligned128() *[128]byte {
	buf := make([]byte, 192)
	off := int(-uintptr(unsafe.Pointer(&buf[0])) % 64)
	return (*[128]byte)(buf[off : off+128])
}

// TestProbesMatchCPU runs each one-instruction probe natively and in the
// simulator on the same random inputs; results and flags must be equal bit
// for bit. Probes of a set this CPU lacks are skipped, each one logged.
func TestProbesMatchCPU(t *testing.T) {
	p := loadProbes(t)
	r := rand.New(rand.NewPCG(7, 8))
	var x, y, z [64]byte
	ran := map[string]bool{}
	for _, pr := range vectorProbes {
		if !hasFeature(pr.need) {
			t.Logf("NOT RUN NATIVELY: probe %s needs %s", pr.name, pr.need)
			continue
		}
		ran[pr.name] = true
		for trial := range 300 {
			fillProbe(r, &x, pr.floats, &y)
			fillProbe(r, &y, pr.floats, &x)
			fillProbe(r, &z, pr.floats, &x)
			k := r.Uint64() & 0xffff
			switch trial % 7 {
			case 0:
				k = 0
			case 1:
				k = 0xffff
			}
			native, sim := aligned128(), aligned128()
			fillProbe(r, (*[64]byte)(native[64:]), false, &x)
			copy(sim[:], native[:])
			ret := pr.fn(&x, &y, &z, native, k)
			m := NewMachine(p)
			ax, bx, cx := m.Map(x[:], 0), m.Map(y[:], 0), m.Map(z[:], 0)
			dx := m.Map(sim[:], int(uintptr(unsafe.Pointer(native))%4096))
			frame, err := m.Call(pr.name, ax, bx, cx, dx, k)
			if err != nil {
				t.Fatalf("%s: %v", pr.name, err)
			}
			got := m.Bytes(dx)
			if !bytes.Equal(got, native[:]) || frame[5] != ret {
				t.Fatalf("%s: x %x y %x z %x k %#x:\nsimulated %x ret %#x\nnatively  %x ret %#x", pr.name, x, y, z, k, got, frame[5], native[:], ret)
			}
		}
	}
	edges := []uint64{0, 1, 2, 15, 16, 17, 1 << 63, 1<<63 - 1, ^uint64(0), ^uint64(0) - 1}
	for _, pr := range scalarProbes {
		for trial := range 400 {
			a, b := r.Uint64()>>r.IntN(64), r.Uint64()>>r.IntN(64)
			if trial < len(edges)*len(edges) {
				a, b = edges[trial%len(edges)], edges[trial/len(edges)]
			}
			wr, wf := pr.fn(a, b)
			m := NewMachine(p)
			frame, err := m.Call(pr.name, a, b)
			if err != nil {
				t.Fatalf("%s: %v", pr.name, err)
			}
			if frame[2] != wr || frame[3] != wf {
				t.Fatalf("%s(%#x, %#x): simulated %#x flags %#b, natively %#x flags %#b", pr.name, a, b, frame[2], frame[3], wr, wf)
			}
		}
	}
	// Every mnemonic the simulator knows has a probe, run natively where
	// the CPU has the probe's set.
	need := map[string]string{}
	for _, pr := range vectorProbes {
		need[pr.name] = pr.need
	}
	probed, runnable, inProbe := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for name, f := range p.Funcs {
		for _, in := range f.Insts {
			inProbe[in.Op] = true
			if ran[name] || name[0] == 'S' {
				probed[in.Op] = true
			}
			if name[0] == 'S' || hasFeature(need[name]) {
				runnable[in.Op] = true
			}
		}
	}
	for op := range known {
		switch {
		case !inProbe[op]:
			t.Errorf("%s has no probe", op)
		case !probed[op] && runnable[op]:
			t.Errorf("%s has no native probe", op)
		}
	}
}
