package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4/kernels"
)

func TestWritesEveryKernelAndTarget(t *testing.T) {
	t.Setenv("NF4_PTXAS", filepath.Join(t.TempDir(), "missing")) // table off: files only
	dir := t.TempDir()
	var out strings.Builder
	if err := run(&out, dir, "sm_80,sm_90", 4); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no table") {
		t.Errorf("output: %q", out.String())
	}
	for _, k := range kernels.All() {
		for _, tg := range []string{"sm_80", "sm_90"} {
			b, err := os.ReadFile(filepath.Join(dir, k.Name()+"."+tg+".ptx"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), ".target "+tg+"\n") {
				t.Errorf("%s.%s: wrong target", k.Name(), tg)
			}
		}
	}
	if err := run(&out, dir, "sm_75", 4); err == nil {
		t.Error("accepted sm_75")
	}
}
