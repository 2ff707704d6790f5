package kernels

import (
	"strings"
	"testing"

	"github.com/nf4go/nf4/kernels/ptx"
)

func TestGemvRowsFor(t *testing.T) {
	cases := []struct{ m, n, sms, want int }{
		{1, 11008, 132, 14}, // 16 rows: 688 blocks, the busiest SM 6 of a mean 5.2
		{1, 4096, 132, 16},
		{1, 8192, 132, 16},
		{1, 14336, 132, 16},
		{2, 11008, 132, 14},
		{1, 11008, 0, 16},   // SM count unknown: gemvConfigs' rows
		{8, 11008, 132, 12}, // grouped: 918 blocks of 3 rows per lane group, the busiest SM 7 × 13 where 16 rows give 6 × 17
	}
	for _, c := range cases {
		if got := GemvRowsFor(c.m, c.n, c.sms); got != c.want {
			t.Errorf("GemvRowsFor(%d, %d, %d) = %d, want %d", c.m, c.n, c.sms, got, c.want)
		}
	}
	// The choice never gives the busiest SM more work than the default.
	cost := func(n, sms, r int) int { return ceilDiv(ceilDiv(n, r), sms) * (r + 1) }
	for m := 1; m <= MaxGemvM; m++ {
		least, most := GemvRowChoices(m)
		if least < 1 || least > most || most != gemvRows(m) {
			t.Fatalf("M=%d: rows %d..%d", m, least, most)
		}
		for _, sms := range []int{4, 108, 132} {
			for n := 1; n <= 20000; n += 37 {
				r := GemvRowsFor(m, n, sms)
				if r < least || r > most || cost(n, sms, r) > cost(n, sms, most) {
					t.Fatalf("M=%d N=%d on %d SMs: %d rows", m, n, sms, r)
				}
			}
		}
	}
}

func TestGemvRows(t *testing.T) {
	g, err := NewGemvFor(1, 11008, 132, 64, true)
	if err != nil {
		t.Fatal(err)
	}
	if g.Name() != "nf4_gemv_m1_r14_b64_dq" {
		t.Errorf("name %s", g.Name())
	}
	if l, err := g.Launch(Shape{M: 1, N: 11008, K: 4096, BlockSize: 64}); err != nil || l.Grid != [3]int{787, 1, 1} {
		t.Errorf("launch %+v %v", l, err)
	}
	src, err := g.PTX(ptx.SM90)
	if err != nil || !strings.Contains(src, ".entry nf4_gemv_m1_r14_b64_dq(") {
		t.Errorf("PTX: %v", err)
	}
	if d, _ := NewGemvFor(1, 4096, 132, 64, false); d.Rows != 0 || d.Name() != "nf4_gemv_m1_b64" {
		t.Errorf("default rows: %+v %s", d, d.Name())
	}
	// Explicit default rows name the default kernel.
	if d := (&Gemv{M: 2, BlockSize: 64, Rows: 16}); d.Name() != "nf4_gemv_m2_b64" {
		t.Errorf("name %s", d.Name())
	}
	for _, r := range []int{11, 17, -1} {
		bad := &Gemv{M: 1, BlockSize: 64, Rows: r}
		if _, err := bad.PTX(ptx.SM90); err == nil {
			t.Errorf("%d rows printed", r)
		}
		if _, err := bad.Launch(Shape{M: 1, N: 64, K: 64, BlockSize: 64}); err == nil {
			t.Errorf("%d rows launched", r)
		}
	}
}
