package ptx_test

import (
	"testing"

	"github.com/nf4go/nf4/kernels/internal/ptxas"
	"github.com/nf4go/nf4/kernels/ptx"
)

// genProgram builds a random but valid kernel from data: a register pool per
// type, arithmetic, conversions, loads, shuffles, structured branches and
// loops, and stores that keep some results live.
func genProgram(data []byte) *ptx.Kernel {
	pos := 0
	next := func() int {
		if pos >= len(data) {
			return 0
		}
		b := int(data[pos])
		pos++
		return b
	}
	k := ptx.NewKernel("fuzz")
	k.MaxThreads(128)
	out := k.LoadParam(k.Param("out"))
	n := k.Cvt("", ptx.U32, ptx.U64, k.LoadParam(k.Param("n")))
	sh := k.SharedAddr(k.Shared("buf", 16, 512))
	u := []ptx.Reg{k.Special(ptx.TidX), n}
	f := []ptx.Reg{k.Mov(ptx.F32, ptx.F32Imm(1.5))}
	h := []ptx.Reg{k.Mov(ptx.U16, ptx.Imm(3))}
	pick := func(rs []ptx.Reg) ptx.Reg { return rs[next()%len(rs)] }
	store := func() {
		a := k.Op("add", ptx.U64, out, k.MulWide(ptx.U32, k.Op("and", ptx.B32, pick(u), ptx.Imm(63)), ptx.Imm(4)))
		k.St("global", ptx.F32, ptx.Addr{Base: a}, pick(f))
	}
	var body func(depth int)
	body = func(depth int) {
		for steps := next()%8 + 1; steps > 0 && pos < len(data); steps-- {
			switch next() % 17 {
			case 0:
				u = append(u, k.Op("add", ptx.U32, pick(u), pick(u)))
			case 1:
				u = append(u, k.Op("mad.lo", ptx.U32, pick(u), ptx.Imm(next()), pick(u)))
			case 2:
				u = append(u, k.Bfe(ptx.U32, pick(u), ptx.Imm(next()%28), ptx.Imm(4)))
			case 3:
				f = append(f, k.Op("fma.rn", ptx.F32, pick(f), pick(f), pick(f)))
			case 4:
				f = append(f, k.Cvt("rn", ptx.F32, ptx.U32, pick(u)))
			case 5:
				f = append(f, k.Op("max", ptx.F32, pick(f), k.Op("abs", ptx.F32, pick(f))))
			case 6:
				h = append(h, k.Cvt("rn", ptx.F16, ptx.F32, pick(f)))
				f = append(f, k.Cvt("", ptx.F32, ptx.F16, pick(h)))
			case 7:
				f = append(f, k.Shfl("bfly", pick(f), ptx.Imm(1<<(next()%5)), 31))
			case 8:
				a := k.Op("add", ptx.U32, sh, k.Shift("shl", ptx.B32, k.Op("and", ptx.B32, pick(u), ptx.Imm(127)), ptx.Imm(2)))
				k.St("shared", ptx.F32, ptx.Addr{Base: a}, pick(f))
				f = append(f, k.Ld("shared", ptx.F32, ptx.Addr{Base: a}))
			case 9:
				u = append(u, k.Prmt(pick(u), pick(u), ptx.Imm(next())))
			case 10:
				u = append(u, k.Lop3(pick(u), pick(u), pick(u), uint8(next())))
			case 11:
				store()
			case 12:
				if depth < 3 {
					p := k.Setp("lt", ptx.U32, pick(u), pick(u))
					k.If(p, func() { body(depth + 1); store() })
				}
			case 13:
				if depth < 3 {
					before := len(u)
					k.For(ptx.Imm(0), ptx.Imm(next()%5), ptx.Imm(1), func(i ptx.Reg) {
						u = append(u, i)
						body(depth + 1)
						store()
					})
					u = u[:before] // the index belongs to the loop body

				}
			case 14:
				if depth == 0 {
					k.BarSync()
				}
			case 16:
				p := k.Setp("ne", ptx.U32, pick(u), ptx.Imm(0))
				d := k.Mov(ptx.F32, pick(f))
				k.When(p, next()%2 == 0, func() { k.MovTo(d, ptx.F32, pick(f)) })
				f = append(f, d)
			case 15:
				f = append(f, k.Selp(ptx.F32, pick(f), pick(f), k.Setp("gt", ptx.F32, pick(f), ptx.F32Imm(0))))
			}
		}
	}
	body(0)
	store()
	return k
}

func FuzzBuilder(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte{8, 12, 3, 13, 4, 3, 11, 14, 7, 2, 15, 0, 9, 9, 10, 5})
	f.Add([]byte("a longer seed that exercises many instruction kinds and nested blocks"))
	as, _ := ptxas.Find()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 256 {
			data = data[:256]
		}
		print := func() string {
			m := ptx.NewModule()
			m.Add(genProgram(data))
			s, err := m.Print(ptx.SM80)
			if err != nil {
				t.Fatalf("valid program rejected: %v", err)
			}
			return s
		}
		s := print()
		if s2 := print(); s2 != s {
			t.Fatal("nondeterministic output")
		}
		if as != "" {
			if _, err := ptxas.Assemble(as, s, "sm_80"); err != nil {
				t.Fatalf("ptxas rejected:\n%v\n%s", err, s)
			}
		}
	})
}
