//go:build openblas && cgo

package main

/*
#cgo LDFLAGS: -lopenblas
char *openblas_get_corename(void);
int openblas_get_num_threads(void);
*/
import "C"

import (
	"fmt"
	"os"
	"syscall"
	"time"

	xcpu "golang.org/x/sys/cpu"
	"gonum.org/v1/netlib/blas/netlib"
)

func init() {
	// OpenBLAS reads OPENBLAS_CORETYPE when it loads, before main runs, so
	// the variable is set by running the program again with it.
	if os.Getenv("OPENBLAS_CORETYPE") == "" && xcpu.X86.HasAVX512F {
		if exe, err := os.Executable(); err == nil {
			env := append(os.Environ(), "OPENBLAS_CORETYPE=SkylakeX")
			err = syscall.Exec(exe, os.Args, env)
			fmt.Fprintln(os.Stderr, "nf4bench: cannot set OPENBLAS_CORETYPE:", err)
		}
	}
	baselines = append(baselines, baseline{"openblas", netlib.Implementation{}, 150 * time.Millisecond, true})
}

// blasNote says which OpenBLAS kernels run. Debian's 0.3.21 does not know
// some recent CPUs and falls back to SSE3 kernels; with AVX-512 present the
// program sets OPENBLAS_CORETYPE=SkylakeX itself, otherwise it keeps what
// OpenBLAS detects (check the core name printed).
func blasNote() string {
	return fmt.Sprintf("OpenBLAS core %s, %d threads (OPENBLAS_CORETYPE=%q)",
		C.GoString(C.openblas_get_corename()), int(C.openblas_get_num_threads()), os.Getenv("OPENBLAS_CORETYPE"))
}
