package ptx

import (
	"strings"
	"testing"
)

func mustPrint(t *testing.T, k *Kernel, tg Target) string {
	t.Helper()
	m := NewModule()
	m.Add(k)
	s, err := m.Print(tg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRegisterClassesDoNotCollide(t *testing.T) {
	k := NewKernel("regs")
	a := k.Mov(U64, Imm(1))
	b := k.Mov(B64, Imm(2))
	c := k.Mov(S64, Imm(3))
	h := k.Mov(U8, Imm(4)) // 8-bit values sit in 16-bit registers
	f := k.Mov(F32, F32Imm(1))
	u := k.Mov(U32, Imm(5))
	names := map[string]bool{}
	for _, r := range []Reg{a, b, c, h, f, u} {
		if names[r.String()] {
			t.Fatalf("duplicate register name %s", r)
		}
		names[r.String()] = true
	}
	if h.String() != "%rs1" || a.String() != "%rd1" || c.String() != "%rd3" || f.String() != "%f1" || u.String() != "%r1" {
		t.Errorf("names: %v %v %v %v %v", h, a, c, f, u)
	}
	k.St("global", U64, Addr{Base: a}, b)
	k.St("global", U64, Addr{Base: a}, c)
	k.St("global", U8, Addr{Base: a}, h)
	k.St("global", F32, Addr{Base: a}, f)
	k.St("global", U32, Addr{Base: a}, u)
	s := mustPrint(t, k, SM80)
	for _, want := range []string{".reg .b64 %rd<4>;", ".reg .b16 %rs<2>;", ".reg .f32 %f<2>;", ".reg .b32 %r<2>;", "mov.u8 %rs1, 4;"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
}

func TestDeadRegisterElimination(t *testing.T) {
	k := NewKernel("dead")
	p := k.LoadParam(k.Param("p"))
	x := k.Mov(U32, Imm(7))
	k.Op("add", U32, x, Imm(1)) // dead, and makes nothing else live
	y := k.Op("mul.lo", U32, x, Imm(3))
	k.St("global", U32, Addr{Base: p}, y)
	s := mustPrint(t, k, SM80)
	if strings.Contains(s, "add.u32") {
		t.Errorf("dead add survived:\n%s", s)
	}
	if !strings.Contains(s, "mul.lo.u32") || !strings.Contains(s, "mov.u32") {
		t.Errorf("live code removed:\n%s", s)
	}
	// Printing does not change the kernel: a second print is identical.
	if s2 := mustPrint(t, k, SM80); s2 != s {
		t.Error("second print differs")
	}
}

func TestBarrierChecks(t *testing.T) {
	cases := []struct {
		name  string
		build func(k *Kernel)
		ok    bool
	}{
		{"top level", func(k *Kernel) { k.BarSync() }, true},
		{"uniform if", func(k *Kernel) {
			n := k.LoadParam(k.Param("n"))
			k.If(k.Setp("eq", U64, n, Imm(0)), k.BarSync)
		}, true},
		{"thread-dependent if", func(k *Kernel) {
			tid := k.Special(TidX)
			k.If(k.Setp("eq", U32, tid, Imm(0)), k.BarSync)
		}, false},
		{"value derived from tid", func(k *Kernel) {
			tid := k.Special(TidX)
			v := k.Op("add", U32, k.Mov(U32, Imm(3)), tid)
			k.If(k.Setp("eq", U32, v, Imm(0)), k.BarSync)
		}, false},
		{"uniform loop", func(k *Kernel) {
			n := k.Cvt("", U32, U64, k.LoadParam(k.Param("n")))
			k.For(Imm(0), n, Imm(1), func(Reg) { k.BarSync() })
		}, true},
		{"thread-strided loop", func(k *Kernel) {
			tid := k.Special(TidX)
			k.For(tid, Imm(100), Imm(32), func(Reg) { k.BarSync() })
		}, false},
		{"divergent return then barrier", func(k *Kernel) {
			tid := k.Special(TidX)
			k.If(k.Setp("ge", U32, tid, Imm(7)), k.Return)
			k.BarSync()
		}, false},
		{"divergent return after last barrier", func(k *Kernel) {
			k.BarSync()
			tid := k.Special(TidX)
			k.If(k.Setp("ge", U32, tid, Imm(7)), k.Return)
		}, true},
		{"divergent return inside a loop with a barrier", func(k *Kernel) {
			tid := k.Special(TidX)
			k.For(Imm(0), Imm(4), Imm(1), func(Reg) {
				k.BarSync()
				k.If(k.Setp("eq", U32, tid, Imm(3)), k.Return)
			})
		}, false},
		{"value loaded under a divergent branch", func(k *Kernel) {
			p := k.LoadParam(k.Param("p"))
			tid := k.Special(TidX)
			v := k.Mov(U32, Imm(0))
			k.If(k.Setp("eq", U32, tid, Imm(0)), func() { k.LdTo(v, "global", U32, Addr{Base: p}) })
			k.If(k.Setp("eq", U32, v, Imm(0)), k.BarSync)
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := NewKernel("bar")
			c.build(k)
			m := NewModule()
			m.Add(k)
			_, err := m.Print(SM80)
			if (err == nil) != c.ok {
				t.Errorf("ok=%v, err=%v", c.ok, err)
			}
		})
	}
}

func TestLabelsAndControlFlow(t *testing.T) {
	k := NewKernel("flow")
	p := k.LoadParam(k.Param("p"))
	n := k.Cvt("", U32, U64, k.LoadParam(k.Param("n")))
	acc := k.Mov(U32, Imm(0))
	k.For(Imm(0), n, Imm(2), func(i Reg) {
		k.IfElse(k.Setp("lt", U32, i, Imm(10)), func() {
			k.OpTo(acc, "add", U32, acc, i)
		}, func() {
			k.OpTo(acc, "sub", U32, acc, i)
		})
	})
	k.St("global", U32, Addr{Base: p}, acc)
	s := mustPrint(t, k, SM90)
	for _, l := range []string{"$L__1", "$L__2", "$L__3", "$L__4"} {
		if strings.Count(s, l+":\n") != 1 {
			t.Errorf("label %s defined %d times:\n%s", l, strings.Count(s, l+":\n"), s)
		}
	}
	if !strings.HasPrefix(s, ".version 7.8\n.target sm_90\n.address_size 64\n") {
		t.Errorf("header:\n%s", s)
	}
}

func TestErrors(t *testing.T) {
	cases := map[string]func() *Kernel{
		"bad name": func() *Kernel { return NewKernel("9bad") },
		"duplicate param": func() *Kernel {
			k := NewKernel("k")
			k.Param("a")
			k.Param("a")
			return k
		},
		"class mismatch": func() *Kernel {
			k := NewKernel("k")
			f := k.Mov(F32, F32Imm(1))
			k.Op("add", U32, f, Imm(1))
			return k
		},
		"foreign register": func() *Kernel {
			other := NewKernel("o")
			r := other.Mov(U32, Imm(1))
			r = other.Mov(U32, r)
			k := NewKernel("k")
			k.Op("add", U32, r, Imm(1))
			return k
		},
		"shared address in 64-bit register": func() *Kernel {
			k := NewKernel("k")
			p := k.LoadParam(k.Param("p"))
			k.Ld("shared", F32, Addr{Base: p})
			return k
		},
		"bad vector": func() *Kernel {
			k := NewKernel("k")
			p := k.LoadParam(k.Param("p"))
			k.LdV("global", F32, 3, Addr{Base: p})
			return k
		},
		"mma fragments": func() *Kernel {
			k := NewKernel("k")
			r := k.Mov(F32, F32Imm(0))
			k.Mma(MmaBF16, Vec{r}, Vec{r}, Vec{r}, Vec{r})
			return k
		},
		"low arch": func() *Kernel {
			k := NewKernel("k")
			k.RequireSM(70)
			return k
		},
		"threads": func() *Kernel {
			k := NewKernel("k")
			k.MaxThreads(2048)
			return k
		},
	}
	for name, f := range cases {
		k := f()
		if k.Err() == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		m := NewModule()
		m.Add(k)
		if s, err := m.Print(SM80); err == nil || s != "" {
			t.Errorf("%s: printed despite error", name)
		}
	}
}

func TestTargets(t *testing.T) {
	k := NewKernel("k")
	k.RequireSM(90)
	m := NewModule()
	m.Add(k)
	if _, err := m.Print(SM80); err == nil {
		t.Error("sm_90 kernel printed for sm_80")
	}
	if _, err := m.Print(SM90); err != nil {
		t.Error(err)
	}
	if _, err := m.Print(Target{SM: 100}); err == nil {
		t.Error("printed for sm_100, which CUDA 11.8 cannot assemble")
	}
	if _, err := m.Print(SM90a); err != nil {
		t.Error(err)
	}
	for s, want := range map[string]Target{"sm_80": SM80, "90": SM90, "sm_90a": SM90a} {
		if tg, err := ParseTarget(s); err != nil || tg != want {
			t.Errorf("ParseTarget(%q) = %v, %v", s, tg, err)
		}
	}
	for _, s := range []string{"sm_80a", "sm_x", "sm_90aa"} {
		if _, err := ParseTarget(s); err == nil {
			t.Errorf("parsed %s", s)
		}
	}
	if SM90a.String() != "sm_90a" {
		t.Errorf("SM90a prints as %s", SM90a)
	}
	if _, err := ParseTarget("sm_x"); err == nil {
		t.Error("parsed sm_x")
	}
	if _, err := NewModule().Print(SM80); err == nil {
		t.Error("printed an empty module")
	}
}

func TestWhen(t *testing.T) {
	k := NewKernel("when")
	p := k.LoadParam(k.Param("p"))
	tid := k.Special(TidX)
	lt := k.Setp("lt", U32, tid, Imm(4))
	v := k.Mov(U32, Imm(1))
	k.When(lt, true, func() { k.MovTo(v, U32, Imm(2)) })
	k.St("global", U32, Addr{Base: p}, v)
	s := mustPrint(t, k, SM80)
	if !strings.Contains(s, "\t@!%p1 mov.u32 %r2, 2;\n") {
		t.Errorf("predicated mov missing:\n%s", s)
	}
	// A value written under a thread-dependent guard is thread-dependent.
	k.If(k.Setp("eq", U32, v, Imm(2)), k.BarSync)
	m := NewModule()
	m.Add(k)
	if _, err := m.Print(SM80); err == nil {
		t.Error("barrier under a guard-dependent branch accepted")
	}
	k2 := NewKernel("when2")
	q := k2.Setp("eq", U32, k2.Mov(U32, Imm(0)), Imm(0))
	k2.When(q, false, func() { k2.If(q, func() {}) })
	if k2.Err() == nil {
		t.Error("control flow inside When accepted")
	}
}
