package ptx

import (
	"fmt"
	"strings"
)

// Module is a PTX translation unit: constant arrays and kernels.
type Module struct {
	kernels []*Kernel
	consts  []constDecl
	err     error
}

type constDecl struct {
	name string
	vals []float32
}

// NewModule starts an empty module.
func NewModule() *Module { return &Module{} }

// Add appends a kernel.
func (m *Module) Add(k *Kernel) {
	for _, o := range m.kernels {
		if o.name == k.name {
			m.setErr(fmt.Errorf("ptx: kernel %s added twice", k.name))
		}
	}
	m.kernels = append(m.kernels, k)
}

// ConstF32 declares a module-level .const array of float32 values.
func (m *Module) ConstF32(name string, vals []float32) Sym {
	if !identRE.MatchString(name) {
		m.setErr(fmt.Errorf("ptx: constant name %q is not an identifier", name))
	}
	if len(vals) == 0 {
		m.setErr(fmt.Errorf("ptx: constant %s is empty", name))
	}
	m.consts = append(m.consts, constDecl{name, append([]float32(nil), vals...)})
	return Sym(name)
}

func (m *Module) setErr(err error) {
	if m.err == nil {
		m.err = err
	}
}

// Print runs the passes and returns the module's PTX for target t. It fails,
// printing nothing, if any kernel recorded an error, needs a newer
// architecture than t, or has a barrier not every thread can reach.
func (m *Module) Print(t Target) (string, error) {
	isa, err := t.isa()
	if err != nil {
		return "", err
	}
	for _, k := range m.kernels {
		if k.accel && !t.Accel {
			return "", fmt.Errorf("ptx: kernel %s uses sm_90a instructions (wgmma, tensor copies) and prints only for sm_90a, not %s", k.name, t)
		}
		isa = max(isa, k.minISA)
	}
	if isa > t.maxISA() {
		return "", fmt.Errorf("ptx: module for %s needs PTX ISA %s, newer than %s", t, isaString(isa), isaString(t.maxISA()))
	}
	if m.err != nil {
		return "", m.err
	}
	if len(m.kernels) == 0 {
		return "", errNoKernel
	}
	var b strings.Builder
	externs := map[string]bool{}
	fmt.Fprintf(&b, ".version %s\n.target %s\n.address_size 64\n", isaString(isa), t)
	for _, c := range m.consts {
		fmt.Fprintf(&b, "\n.const .align 4 .f32 %s[%d] = {", c.name, len(c.vals))
		for i, v := range c.vals {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(F32Imm(v).String())
		}
		b.WriteString("};\n")
	}
	for _, k := range m.kernels {
		if k.err != nil {
			return "", k.err
		}
		if t.SM < k.minSM {
			return "", fmt.Errorf("ptx: kernel %s needs sm_%d or newer, not %s", k.name, k.minSM, t)
		}

		body := eliminateDead(k.body)
		if err := checkBarriers(k.name, body); err != nil {
			return "", err
		}
		printExtern(&b, k, externs)
		printKernel(&b, k, body)
	}
	return b.String(), nil
}
