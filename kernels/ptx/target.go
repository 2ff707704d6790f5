package ptx

import (
	"fmt"
	"strconv"
	"strings"
)

// Target is a GPU architecture, e.g. SM80 for sm_80.
type Target struct{ SM int }

// The targets the kernels are built and checked for.
var (
	SM80 = Target{80}
	SM90 = Target{90}
)

// Targets lists every architecture this package prints for, lowest first.
func Targets() []Target { return []Target{SM80, {86}, {87}, {89}, SM90} }

// isaVersion is the lowest PTX ISA (major·10+minor) that knows each target.
var isaVersion = map[int]int{80: 70, 86: 71, 87: 74, 89: 78, 90: 78}

// maxISA is the newest PTX ISA that CUDA 11.8's ptxas accepts.
const maxISA = 78

// PTXVersion is the lowest .version the target needs, e.g. "7.0".
func (t Target) PTXVersion() (string, error) {
	v, err := t.isa()
	if err != nil {
		return "", err
	}
	return isaString(v), nil
}

func (t Target) isa() (int, error) {
	v, ok := isaVersion[t.SM]
	if !ok {
		return 0, fmt.Errorf("ptx: unsupported target sm_%d (supported: sm_80, sm_86, sm_87, sm_89, sm_90)", t.SM)
	}
	return v, nil
}

func isaString(v int) string { return strconv.Itoa(v/10) + "." + strconv.Itoa(v%10) }

func (t Target) String() string { return "sm_" + strconv.Itoa(t.SM) }

// ParseTarget reads "sm_80" or "80".
func ParseTarget(s string) (Target, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "sm_"))
	if err != nil {
		return Target{}, fmt.Errorf("ptx: bad target %q", s)
	}
	t := Target{n}
	if _, err := t.PTXVersion(); err != nil {
		return Target{}, err
	}
	return t, nil
}
