package ptxsim

import (
	"fmt"
	"strings"
	"testing"
)

// aluCase computes one value in a single thread. res names the register
// holding the result: %r (b32), %f (f32), %l (b64), %h (b16) or %p (pred).
type aluCase struct {
	name string
	code string
	res  string
	want uint64
}

const aluRegs = `
	.reg .pred %p, %q, %p1, %p2;
	.reg .b16 %h, %ha, %hb;
	.reg .b32 %r, %a, %b, %c;
	.reg .f32 %f, %fa, %fb, %fc;
	.reg .b64 %l, %la, %lb, %lc, %o;
	.reg .f64 %d, %da, %db;
`

// runALU runs every case in one kernel and checks the stored results.
func runALU(t *testing.T, cases []aluCase) {
	t.Helper()
	var b strings.Builder
	b.WriteString(".version 7.8\n.target sm_80\n.address_size 64\n\n.visible .entry alu(\n\t.param .u64 out\n)\n{\n")
	b.WriteString(aluRegs)
	b.WriteString("\tld.param.u64 %o, [out];\n")
	for i, c := range cases {
		fmt.Fprintf(&b, "\t// %s\n%s\n", c.name, c.code)
		switch c.res {
		case "%r":
			b.WriteString("\tcvt.u64.u32 %l, %r;\n")
		case "%f":
			b.WriteString("\tmov.b32 %r, %f;\n\tcvt.u64.u32 %l, %r;\n")
		case "%h":
			b.WriteString("\tcvt.u64.u16 %l, %h;\n")
		case "%p":
			b.WriteString("\tselp.u64 %l, 1, 0, %p;\n")
		case "%d":
			b.WriteString("\tmov.b64 %l, %d;\n")
		case "%l":
		default:
			t.Fatalf("case %s: bad result register %s", c.name, c.res)
		}
		fmt.Fprintf(&b, "\tst.global.u64 [%%o+%d], %%l;\n", 8*i)
	}
	b.WriteString("\tret;\n}\n")
	src := b.String()
	m, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := m.Kernel("alu")
	d := NewDevice()
	out := d.Alloc(8 * len(cases))
	if err := d.Launch(k, [3]int{1, 1, 1}, [3]int{1, 1, 1}, 0, uint64(out)); err != nil {
		t.Fatal(err)
	}
	raw, _ := d.Read(out, 8*len(cases))
	for i, c := range cases {
		got := loadLE(raw[8*i : 8*i+8])
		if got != c.want {
			t.Errorf("%s: got 0x%x, want 0x%x", c.name, got, c.want)
		}
	}
}

// launch1 loads src and runs kernel name with the given geometry.
func launch1(t *testing.T, d *Device, src, name string, grid, block int, params ...uint64) error {
	t.Helper()
	m, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	k, err := m.Kernel(name)
	if err != nil {
		t.Fatal(err)
	}
	return d.Launch(k, [3]int{grid, 1, 1}, [3]int{block, 1, 1}, 0, params...)
}

const header = ".version 7.8\n.target sm_80\n.address_size 64\n"
