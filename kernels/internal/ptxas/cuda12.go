package ptxas

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
)

// Tools are the binaries of one CUDA toolkit.
type Tools struct {
	Dir                        string
	Ptxas, Cuobjdump, Nvdisasm string
	Major, Minor               int // of ptxas --version
}

func (t Tools) String() string { return fmt.Sprintf("CUDA %d.%d in %s", t.Major, t.Minor, t.Dir) }

// ErrNoCUDA12 means no CUDA 12.4 (or newer) ptxas, cuobjdump and nvdisasm
// were found.
var ErrNoCUDA12 = errors.New("CUDA 12.4 tools not found (scripts/install-ptxas.sh 12.4 installs them into ~/.cache/nf4/cuda12.4; NF4_CUDA12_BIN names another folder)")

// CUDA12Dirs are the folders searched for the CUDA 12 tools, in order:
// $NF4_CUDA12_BIN, the cache scripts/install-ptxas.sh 12.4 fills
// ($NF4_CUDA12_CACHE, else $XDG_CACHE_HOME or ~/.cache, + nf4/cuda12.4),
// then the folder of the ptxas on PATH.
func CUDA12Dirs() []string {
	var dirs []string
	if d := os.Getenv("NF4_CUDA12_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	cache := os.Getenv("NF4_CUDA12_CACHE")
	if cache == "" {
		if c, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(c, "nf4", "cuda12.4")
		}
	}
	if cache != "" {
		dirs = append(dirs, filepath.Join(cache, "root", "usr", "bin"))
	}
	if p, err := exec.LookPath("ptxas"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	return dirs
}

var (
	cuda12Once  sync.Once
	cuda12Tools Tools
	cuda12Err   error
)

// FindCUDA12 returns the first folder of CUDA12Dirs that holds ptxas,
// cuobjdump and nvdisasm of CUDA 12.4 or newer. The answer is computed once
// per process.
func FindCUDA12() (Tools, error) {
	cuda12Once.Do(func() { cuda12Tools, cuda12Err = findCUDA12(CUDA12Dirs()) })
	return cuda12Tools, cuda12Err
}

func findCUDA12(dirs []string) (Tools, error) {
	var tried []string
	for _, d := range dirs {
		t := Tools{Dir: d, Ptxas: filepath.Join(d, "ptxas"), Cuobjdump: filepath.Join(d, "cuobjdump"), Nvdisasm: filepath.Join(d, "nvdisasm")}
		missing := false
		for _, p := range []string{t.Ptxas, t.Cuobjdump, t.Nvdisasm} {
			if _, err := os.Stat(p); err != nil {
				missing = true
			}
		}
		if missing {
			tried = append(tried, d+": incomplete")
			continue
		}
		maj, minor, err := Version(t.Ptxas)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		if maj < 12 || maj == 12 && minor < 4 {
			tried = append(tried, fmt.Sprintf("%s: CUDA %d.%d", d, maj, minor))
			continue
		}
		t.Major, t.Minor = maj, minor
		return t, nil
	}
	return Tools{}, fmt.Errorf("%w; looked in %v", ErrNoCUDA12, tried)
}

var reRelease = regexp.MustCompile(`release (\d+)\.(\d+)`)

// Version runs `ptxas --version` and returns the CUDA release it reports.
func Version(ptxasPath string) (major, minor int, err error) {
	out, err := exec.Command(ptxasPath, "--version").CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("%s --version: %v", ptxasPath, err)
	}
	m := reRelease.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("%s --version: no release in %q", ptxasPath, out)
	}
	major, _ = strconv.Atoi(string(m[1]))
	minor, _ = strconv.Atoi(string(m[2]))
	return major, minor, nil
}
