//go:build ignore

// cuda-tag-typecheck type-checks every package of this module as
// `go build -tags cuda` selects its files, against gorgonia in its own CUDA
// mode. A real build under that tag needs cudnn.h, cublas_v2.h and the CUDA
// runtime headers for gorgonia.org/cu/dnn and cu/blas, which CI does not
// have (cuDNN is not in Debian); this checks all of our code, with function
// bodies, and every Go declaration it uses from gorgonia's CUDA mode, leaving
// only the C side of cgo packages unchecked (go/types' FakeImportC).
//
//	go run .ci/cuda-tag-typecheck.go
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

type pkg struct {
	ImportPath string
	Dir        string
	Standard   bool
	GoFiles    []string
	CgoFiles   []string
	ImportMap  map[string]string
	Module     *struct{ Main bool }
	Error      *struct{ Err string }
}

func main() {
	cmd := exec.Command("go", "list", "-e", "-deps", "-json", "-tags", "cuda", "./...")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.Output()
	if err != nil {
		fail("go list: %v", err)
	}
	fset := token.NewFileSet()
	std := importer.ForCompiler(fset, "gc", nil)
	done := map[string]*types.Package{}
	failed, ours := 0, 0
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			fail("go list output: %v", err)
		}
		if p.Standard {
			continue
		}
		main := p.Module != nil && p.Module.Main
		if p.Error != nil {
			fail("%s: %s", p.ImportPath, p.Error.Err)
		}
		tp, err := check(fset, &p, !main, func(path string) (*types.Package, error) {
			if m, ok := p.ImportMap[path]; ok {
				path = m
			}
			if tp, ok := done[path]; ok {
				return tp, nil
			}
			return std.Import(path)
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL %s\n%v\n", p.ImportPath, err)
			failed++
			continue
		}
		done[p.ImportPath] = tp
		if main {
			ours++
			fmt.Printf("ok   %s\n", p.ImportPath)
		}
	}
	if failed > 0 {
		fail("%d packages do not type-check under -tags cuda", failed)
	}
	if _, ok := done["gorgonia.org/gorgonia/cuda"]; !ok {
		fail("gorgonia's CUDA mode was not selected: is the cuda tag still what switches it on?")
	}
	fmt.Printf("cuda-tag-typecheck: %d packages of this module type-check with -tags cuda\n", ours)
}

type importFunc func(string) (*types.Package, error)

func (f importFunc) Import(path string) (*types.Package, error) { return f(path) }

func check(fset *token.FileSet, p *pkg, depOnly bool, imp importFunc) (*types.Package, error) {
	var files []*ast.File
	for _, name := range append(append([]string(nil), p.GoFiles...), p.CgoFiles...) {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	var errs []string
	conf := types.Config{
		Importer:         imp,
		FakeImportC:      len(p.CgoFiles) > 0,
		IgnoreFuncBodies: depOnly,
		Error: func(err error) {
			// With a fake "C", constants of C enums all read as unknown
			// (duplicate map keys and the like): the C side is not what
			// this checks, so a dependency's cgo package is taken as it is.
			if depOnly && len(p.CgoFiles) > 0 {
				return
			}
			errs = append(errs, err.Error())
		},
	}
	tp, _ := conf.Check(p.ImportPath, fset, files, nil)
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return tp, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "cuda-tag-typecheck: "+format+"\n", args...)
	os.Exit(1)
}
