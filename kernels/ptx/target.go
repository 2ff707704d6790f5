package ptx

import (
	"fmt"
	"strconv"
	"strings"
)

// Target is a GPU architecture, e.g. SM80 for sm_80. Accel selects the
// architecture-specific variant (sm_90a): the Hopper instructions wgmma and
// the tensor-memory copies exist only there, and its code runs only on
// exactly that compute capability, never on a later one.
type Target struct {
	SM    int
	Accel bool
}

// The targets the kernels are built and checked for.
var (
	SM80  = Target{SM: 80}
	SM90  = Target{SM: 90}
	SM90a = Target{SM: 90, Accel: true}
)

// Targets lists every portable architecture this package prints for, lowest
// first. SM90a is not among them: a module is printed for it only when a
// kernel asks for it (see Kernel.Accel).
func Targets() []Target { return []Target{SM80, {SM: 86}, {SM: 87}, {SM: 89}, SM90} }

// isaVersion is the lowest PTX ISA (major·10+minor) that knows each target.
var isaVersion = map[int]int{80: 70, 86: 71, 87: 74, 89: 78, 90: 78}

// accelISA is the lowest PTX ISA that knows sm_90a.
const accelISA = 80

const (
	// maxISA is the newest PTX ISA that CUDA 11.8's ptxas accepts.
	maxISA = 78
	// maxAccelISA is the newest PTX ISA that CUDA 12.4's ptxas accepts:
	// sm_90a modules are for that assembler only.
	maxAccelISA = 84
)

// PTXVersion is the lowest .version the target needs, e.g. "7.0".
func (t Target) PTXVersion() (string, error) {
	v, err := t.isa()
	if err != nil {
		return "", err
	}
	return isaString(v), nil
}

func (t Target) isa() (int, error) {
	if t.Accel {
		if t.SM != 90 {
			return 0, fmt.Errorf("ptx: unsupported target %s (the only architecture-specific target is sm_90a)", t)
		}
		return accelISA, nil
	}
	v, ok := isaVersion[t.SM]
	if !ok {
		return 0, fmt.Errorf("ptx: unsupported target sm_%d (supported: sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a)", t.SM)
	}
	return v, nil
}

// maxISA is the newest PTX ISA a module for t may use.
func (t Target) maxISA() int {
	if t.Accel {
		return maxAccelISA
	}
	return maxISA
}

func isaString(v int) string { return strconv.Itoa(v/10) + "." + strconv.Itoa(v%10) }

func (t Target) String() string {
	s := "sm_" + strconv.Itoa(t.SM)
	if t.Accel {
		s += "a"
	}
	return s
}

// ParseTarget reads "sm_80", "80" or "sm_90a".
func ParseTarget(s string) (Target, error) {
	body := strings.TrimPrefix(s, "sm_")
	accel := strings.HasSuffix(body, "a")
	n, err := strconv.Atoi(strings.TrimSuffix(body, "a"))
	if err != nil {
		return Target{}, fmt.Errorf("ptx: bad target %q", s)
	}
	t := Target{SM: n, Accel: accel}
	if _, err := t.PTXVersion(); err != nil {
		return Target{}, err
	}
	return t, nil
}
