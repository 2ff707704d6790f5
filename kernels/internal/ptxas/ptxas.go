// Package ptxas runs NVIDIA's ptxas and cuobjdump on printed PTX and parses
// their reports, so tests and tools can check register use, spills and SASS
// without a GPU.
package ptxas

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ErrNotFound means no ptxas binary is available.
var ErrNotFound = errors.New("ptxas not found (set NF4_PTXAS or put ptxas on PATH; scripts/install-ptxas.sh installs it)")

// Find locates ptxas: $NF4_PTXAS first, then PATH.
func Find() (string, error) {
	if p := os.Getenv("NF4_PTXAS"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("NF4_PTXAS=%s: %w", p, err)
		}
		return p, nil
	}
	p, err := exec.LookPath("ptxas")
	if err != nil {
		return "", ErrNotFound
	}
	return p, nil
}

// FindCuobjdump locates cuobjdump next to ptxas, then on PATH.
func FindCuobjdump(ptxasPath string) (string, error) {
	p := filepath.Join(filepath.Dir(ptxasPath), "cuobjdump")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return exec.LookPath("cuobjdump")
}

// Function is ptxas' report for one entry function.
type Function struct {
	Name        string
	Registers   int
	SharedBytes int
	StackFrame  int
	SpillStores int
	SpillLoads  int
}

// Result is the outcome of assembling one PTX text.
type Result struct {
	Functions map[string]*Function
	Warnings  []string // lines ptxas marked as warnings or errors
	Cubin     []byte
	Log       string
}

var (
	reEntry  = regexp.MustCompile(`Compiling entry function '([^']+)'`)
	reProps  = regexp.MustCompile(`Function properties for (\S+)`)
	reFrame  = regexp.MustCompile(`(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads`)
	reUsed   = regexp.MustCompile(`Used (\d+) registers`)
	reShared = regexp.MustCompile(`(\d+) bytes smem`)
)

// Assemble runs `ptxas -v -arch=<arch>` on src. A non-zero exit is an error
// carrying ptxas' output.
func Assemble(ptxasPath, src, arch string) (*Result, error) {
	dir, err := os.MkdirTemp("", "nf4-ptxas")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "k.ptx")
	out := filepath.Join(dir, "k.cubin")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(ptxasPath, "-v", "-arch="+arch, "-o", out, in)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ptxas -arch=%s: %v\n%s", arch, err, buf.String())
	}
	r := parse(buf.String())
	r.Cubin, err = os.ReadFile(out)
	return r, err
}

func parse(log string) *Result {
	r := &Result{Functions: map[string]*Function{}, Log: log}
	var cur *Function
	get := func(name string) *Function {
		f := r.Functions[name]
		if f == nil {
			f = &Function{Name: name}
			r.Functions[name] = f
		}
		return f
	}
	for _, line := range strings.Split(log, "\n") {
		low := strings.ToLower(line)
		if strings.Contains(low, "warning") || strings.Contains(low, "error") {
			r.Warnings = append(r.Warnings, strings.TrimSpace(line))
		}
		if m := reEntry.FindStringSubmatch(line); m != nil {
			cur = get(m[1])
		}
		if m := reProps.FindStringSubmatch(line); m != nil {
			cur = get(m[1])
		}
		if cur == nil {
			continue
		}
		if m := reFrame.FindStringSubmatch(line); m != nil {
			cur.StackFrame, cur.SpillStores, cur.SpillLoads = atoi(m[1]), atoi(m[2]), atoi(m[3])
		}
		if m := reUsed.FindStringSubmatch(line); m != nil {
			cur.Registers = atoi(m[1])
			if s := reShared.FindStringSubmatch(line); s != nil {
				cur.SharedBytes = atoi(s[1])
			}
		}
	}
	return r
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// SASS disassembles a cubin with `cuobjdump -sass`. cuobjdump runs
// nvdisasm to do it, found on PATH: the folder cuobjdump is in comes first,
// so the two are of one CUDA release.
func SASS(cuobjdumpPath string, cubin []byte) (string, error) {
	dir, err := os.MkdirTemp("", "nf4-sass")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	f := filepath.Join(dir, "k.cubin")
	if err := os.WriteFile(f, cubin, 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command(cuobjdumpPath, "-sass", f)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(cuobjdumpPath)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cuobjdump -sass: %v\n%s", err, out)
	}
	return string(out), nil
}

var reSASS = regexp.MustCompile(`/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P[T0-9]\s+)?([A-Z][A-Z0-9_.]*)`)

// Mix counts SASS instructions by opcode (with modifiers, e.g. LDG.E.128).
func Mix(sass string) map[string]int {
	m := map[string]int{}
	for _, line := range strings.Split(sass, "\n") {
		if s := reSASS.FindStringSubmatch(line); s != nil {
			m[s[1]]++
		}
	}
	return m
}

// Opcodes returns the keys of a mix sorted by descending count, then name.
func Opcodes(mix map[string]int) []string {
	keys := make([]string, 0, len(mix))
	for k := range mix {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if mix[keys[i]] != mix[keys[j]] {
			return mix[keys[i]] > mix[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
