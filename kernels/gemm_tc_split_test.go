package kernels

import "testing"

func TestTCSplitsFor(t *testing.T) {
	for _, c := range []struct{ m, cols, reduce, sms, want int }{
		{16, 4096, 4096, 132, 4},   // 32 tiles: 4 splits of 16 steps, one block per SM
		{100, 11008, 4096, 132, 3}, // 86 tiles: 258 blocks, 22 steps each
		{128, 14336, 4096, 132, 1}, // 112 tiles: a split saves too little
		{512, 4096, 4096, 132, 1},  // 128 tiles
		{16, 4096, 4096, 0, 1},     // SMs unknown
		{16, 4096, 64, 132, 1},     // one step
		{16, 128, 512, 132, 2},     // 8 steps: splits of at least 4
		{16, 4096, 1 << 20, 132, 4},
	} {
		got := TCSplitsFor(c.m, c.cols, c.reduce, c.sms)
		if got != c.want {
			t.Errorf("TCSplitsFor(%d, %d, %d, %d) = %d, want %d", c.m, c.cols, c.reduce, c.sms, got, c.want)
		}
		if steps := ceilDiv(c.reduce, tcBK); got > 1 && (tcSplitsFor(steps, got) != got || ceilDiv(steps, got) < tcMinSplitSteps) {
			t.Errorf("TCSplitsFor(%d, %d, %d, %d) = %d: an empty or short split of %d steps", c.m, c.cols, c.reduce, c.sms, got, steps)
		}
	}
	for _, c := range []struct{ steps, want, got int }{{5, 4, 3}, {64, 4, 4}, {7, 16, 7}, {1, 8, 1}, {10, 3, 3}} {
		if s := tcSplitsFor(c.steps, c.want); s != c.got {
			t.Errorf("tcSplitsFor(%d, %d) = %d, want %d", c.steps, c.want, s, c.got)
		}
	}
}
