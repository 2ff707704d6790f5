package main

import (
	"slices"
	"strings"
	"testing"
)

func TestNewPlan(t *testing.T) {
	p, err := newPlan(false, "", "1,8,64")
	if err != nil {
		t.Fatal(err)
	}
	if want := []shape{{4096, 4096}, {8192, 8192}}; !slices.Equal(p.shapes, want) || !slices.Equal(p.batches, []int{1, 8, 64}) {
		t.Errorf("default plan %+v", p)
	}
	if p, _ := newPlan(true, "", "1"); len(p.shapes) != 1 || p.shapes[0] != (shape{4096, 4096}) {
		t.Errorf("-quick plan %+v", p)
	}
	p, err = newPlan(true, "4096X14336", "512, 1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.shapes, []shape{{4096, 14336}}) || !slices.Equal(p.batches, []int{512, 1}) {
		t.Errorf("-shape 4096X14336 -batches '512, 1': plan %+v", p)
	}
	if s := (shape{4096, 14336}).String(); s != "N=4096 K=14336" {
		t.Errorf("shape prints as %q", s)
	}
	for _, c := range []struct{ shape, batches, want string }{
		{"4096", "1", "want NxK"},
		{"4096x", "1", "want NxK"},
		{"ax4", "1", "want NxK"},
		{"0x4096", "1", "from 1 to"},
		{"4096x99999999", "1", "from 1 to"},
		{"", "", "not a batch size"},
		{"", "1,,8", "not a batch size"},
		{"", "0", "not a batch size"},
		{"", "100000", "not a batch size"},
		{"", "8,8", "given twice"},
	} {
		_, err := newPlan(false, c.shape, c.batches)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("-shape %q -batches %q: error %v, want one saying %q", c.shape, c.batches, err, c.want)
		}
	}
}
