package cudaplan

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nf4go/nf4/kernels/ptx"
)

func TestCacheKey(t *testing.T) {
	base := CacheKey("ptx text", ptx.SM80, 86, 12040)
	if len(base) != 64 || strings.Trim(base, "0123456789abcdef") != "" {
		t.Fatalf("key %q is not 64 hex digits", base)
	}
	if again := CacheKey("ptx text", ptx.SM80, 86, 12040); again != base {
		t.Error("the key is not deterministic")
	}
	seen := map[string]string{base: "base"}
	for name, k := range map[string]string{
		"text":    CacheKey("ptx text ", ptx.SM80, 86, 12040),
		"target":  CacheKey("ptx text", ptx.SM90, 86, 12040),
		"device":  CacheKey("ptx text", ptx.SM80, 80, 12040),
		"driver":  CacheKey("ptx text", ptx.SM80, 86, 12050),
		"framing": CacheKey("ptx textsm_80", ptx.Target{}, 86, 12040),
	} {
		if prev, dup := seen[k]; dup {
			t.Errorf("changing the %s gives the key of %s", name, prev)
		}
		seen[k] = name
	}
}

func TestCacheFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := CachePath(dir, "nf4_gemv_m1_b64", CacheKey("x", ptx.SM90, 90, 1))
	if !strings.HasPrefix(filepath.Base(path), "nf4_gemv_m1_b64-") || filepath.Dir(path) != dir {
		t.Fatalf("path %q", path)
	}
	if _, ok, err := ReadCache(path); ok || err != nil {
		t.Fatalf("missing file: ok %v err %v", ok, err)
	}
	bin := []byte("\x7fELF\x00binary\x00with NULs")
	if err := WriteCache(path, bin); err != nil {
		t.Fatal(err)
	}
	got, ok, err := ReadCache(path)
	if !ok || err != nil || !bytes.Equal(got, bin) {
		t.Fatalf("read back %q %v %v", got, ok, err)
	}
	// Concurrent writers of one kernel leave one whole binary and no
	// temporary files.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := WriteCache(path, bin); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("cache directory holds %d files, want 1", len(entries))
	}
	if got, _, _ := ReadCache(path); !bytes.Equal(got, bin) {
		t.Error("binary damaged by concurrent writes")
	}
	RemoveCache(path)
	if _, ok, _ := ReadCache(path); ok {
		t.Error("RemoveCache left the file")
	}
	// An empty file (a crash before rename cannot leave one, another tool
	// might) is a miss.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := ReadCache(path); ok {
		t.Error("empty file read as a hit")
	}
}

func TestCacheDisabled(t *testing.T) {
	if p := CachePath("", "k", "key"); p != "" {
		t.Fatalf("CachePath with no dir = %q", p)
	}
	if _, ok, err := ReadCache(""); ok || err != nil {
		t.Error("ReadCache(\"\") hit")
	}
	if err := WriteCache("", []byte("x")); err != nil {
		t.Error(err)
	}
	RemoveCache("")
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("NF4_KERNEL_CACHE", "/some/where")
	if d := DefaultCacheDir(); d != "/some/where" {
		t.Errorf("DefaultCacheDir = %q with NF4_KERNEL_CACHE set", d)
	}
	t.Setenv("NF4_KERNEL_CACHE", "")
	if d := DefaultCacheDir(); d != "" {
		t.Errorf("DefaultCacheDir = %q with NF4_KERNEL_CACHE empty, want the cache off", d)
	}
	os.Unsetenv("NF4_KERNEL_CACHE")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d := DefaultCacheDir(); d != filepath.Join("/xdg", "nf4", "cubin") {
		t.Errorf("DefaultCacheDir = %q", d)
	}
}
