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

func TestWGSplitsFor(t *testing.T) {
	for _, c := range []struct{ m, n, k, sms, rows, want int }{
		{32, 4096, 4096, 132, 128, 8},   // 32 tiles, two blocks per SM: 256 blocks of 8 steps
		{128, 4096, 4096, 132, 128, 4},  // issue-bound: one block per SM
		{256, 4096, 4096, 132, 256, 2},  // 32 tiles of 256 rows count as 64
		{512, 4096, 4096, 132, 256, 1},  // 64 of 256 rows: 128 units
		{128, 14336, 4096, 132, 128, 1}, // 112 tiles: a split saves too little
		{32, 4096, 4096, 0, 128, 1},     // SMs unknown
		{32, 4096, 64, 132, 128, 1},     // one step
		{17, 128, 512, 132, 128, 2},     // 8 steps: splits of at least 4
		{64, 4096, 1 << 20, 132, 0, 8},  // Rows 0 is 128
		{65, 4096, 4096, 132, 128, 4},   // past half a tile: issue-bound
		{4096, 4096, 4096, 132, 256, 1}, // tiles fill the device
		{200, 4000, 11008, 132, 256, 2}, // 32 tiles of 256 rows
		{1, 1, 4096, 132, 128, 8},       // one tile: 8 steps and 8 to sum beat 4 and 16
	} {
		got := WGSplitsFor(c.m, c.n, c.k, c.sms, c.rows)
		if got != c.want {
			t.Errorf("WGSplitsFor(%d, %d, %d, %d, %d) = %d, want %d", c.m, c.n, c.k, c.sms, c.rows, got, c.want)
		}
	}
}

func TestNewGemmWGFor(t *testing.T) {
	for _, c := range []struct{ m, n, k, rows, splits int }{
		{17, 4096, 4096, 0, 8},
		{128, 4096, 4096, 0, 4},
		{256, 4096, 4096, 256, 2},
		{512, 4096, 4096, 256, 1},
		{256, 14336, 4096, 256, 1}, // 112 blocks of 256 rows, not 224 of 128
		{129, 11008, 4096, 256, 1},
		{100, 4096, 4096, 0, 4},
		{512, 14336, 4096, 256, 1},
	} {
		g, err := NewGemmWGFor(c.m, c.n, c.k, 132, 64, false)
		if err != nil {
			t.Fatal(err)
		}
		if g.Rows != c.rows || g.Splits != c.splits {
			t.Errorf("NewGemmWGFor(%d, %d, %d): rows %d splits %d, want %d, %d", c.m, c.n, c.k, g.Rows, g.Splits, c.rows, c.splits)
		}
	}
}
