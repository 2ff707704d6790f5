package cudaplan

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nf4go/nf4/kernels/ptx"
)

// CacheKey identifies the binary the driver compiles from ptxText: the
// same text JIT-compiled for the same target on the same architecture by
// the same driver gives the same code, anything else may not. Each field is
// length-prefixed so no two inputs share an encoding.
func CacheKey(ptxText string, target ptx.Target, deviceSM, driverVersion int) string {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field("nf4 cubin v1")
	field(ptxText)
	field(target.String())
	field(fmt.Sprintf("sm_%d", deviceSM))
	field(fmt.Sprintf("driver %d", driverVersion))
	return hex.EncodeToString(h.Sum(nil))
}

// DefaultCacheDir is where compiled kernels are kept unless the engine is
// told otherwise: $NF4_KERNEL_CACHE if set, else nf4/cubin under the user's
// cache directory. "" (no usable directory) means no disk cache.
func DefaultCacheDir() string {
	if d, ok := os.LookupEnv("NF4_KERNEL_CACHE"); ok {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "nf4", "cubin")
}

// CachePath is the file for a kernel's binary under dir; the kernel name
// makes the directory readable, the key makes it exact. It is "" when dir
// is "": no disk cache.
func CachePath(dir, kernel, key string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, kernel+"-"+key+".cubin")
}

// ReadCache returns the cached binary at path; ok is false when there is
// none (or dir is ""), and err reports only a file that exists but cannot
// be read.
func ReadCache(path string) (bin []byte, ok bool, err error) {
	if path == "" {
		return nil, false, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	case len(b) == 0:
		return nil, false, nil
	}
	return b, true, nil
}

// WriteCache stores bin at path atomically (a temporary file renamed into
// place), so a concurrent reader sees the whole binary or nothing and two
// processes compiling the same kernel do not corrupt each other.
func WriteCache(path string, bin []byte) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.cubin")
	if err != nil {
		return err
	}
	_, werr := f.Write(bin)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// RemoveCache deletes a cached binary the driver refused (truncated or
// from another toolchain), so the next start compiles afresh.
func RemoveCache(path string) {
	if path != "" {
		os.Remove(path)
	}
}
