package ptxas

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTools makes a folder of stand-in tools whose ptxas reports release.
func fakeTools(t *testing.T, release string, tools ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range tools {
		script := "#!/bin/sh\necho 'Cuda compilation tools, release " + release + ", V" + release + ".0'\n"
		if err := os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFindCUDA12(t *testing.T) {
	all := []string{"ptxas", "cuobjdump", "nvdisasm"}
	old := fakeTools(t, "11.8", all...)
	partial := fakeTools(t, "12.4", "ptxas", "cuobjdump")
	good := fakeTools(t, "12.4", all...)
	newer := fakeTools(t, "12.8", all...)
	tools, err := findCUDA12([]string{old, partial, good, newer})
	if err != nil {
		t.Fatal(err)
	}
	if tools.Dir != good || tools.Major != 12 || tools.Minor != 4 || tools.Nvdisasm != filepath.Join(good, "nvdisasm") {
		t.Errorf("found %+v", tools)
	}
	if tools, err := findCUDA12([]string{newer}); err != nil || tools.Minor != 8 {
		t.Errorf("CUDA 12.8: %+v %v", tools, err)
	}
	_, err = findCUDA12([]string{old, partial})
	if !errors.Is(err, ErrNoCUDA12) || !strings.Contains(err.Error(), "CUDA 11.8") || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("no 12.4 tools: %v", err)
	}
}

func TestCUDA12Dirs(t *testing.T) {
	t.Setenv("NF4_CUDA12_BIN", "/opt/somewhere")
	t.Setenv("NF4_CUDA12_CACHE", "/cache/c12")
	d := CUDA12Dirs()
	if len(d) < 2 || d[0] != "/opt/somewhere" || d[1] != "/cache/c12/root/usr/bin" {
		t.Errorf("%v", d)
	}
	t.Setenv("NF4_CUDA12_BIN", "")
	t.Setenv("NF4_CUDA12_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d := CUDA12Dirs(); d[0] != "/xdg/nf4/cuda12.4/root/usr/bin" {
		t.Errorf("the install script's cache is not searched first: %v", d)
	}
}
