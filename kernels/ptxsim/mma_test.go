package ptxsim

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// The ISA's fragment tables, written out per register as the PTX ISA
// figures draw them (g = lane>>2, q = lane%4):
//
//	m16n8k16 A (16x16): reg0 row g, cols 2q,2q+1      reg1 row g+8, cols 2q,2q+1
//	                    reg2 row g, cols 2q+8,2q+9    reg3 row g+8, cols 2q+8,2q+9
//	m16n8k16 B (16x8):  reg0 rows 2q,2q+1, col g      reg1 rows 2q+8,2q+9, col g
//	m16n8k8 tf32 A:     a0 (g,q) a1 (g+8,q) a2 (g,q+4) a3 (g+8,q+4)
//	m16n8k8 tf32 B:     b0 (q,g) b1 (q+4,g)
//	C and D (16x8 f32): c0 (g,2q) c1 (g,2q+1) c2 (g+8,2q) c3 (g+8,2q+1)
type cell struct{ r, c int }

func tableA16(lane int) [4][2]cell {
	g, q := lane>>2, lane%4
	return [4][2]cell{
		{{g, 2 * q}, {g, 2*q + 1}},
		{{g + 8, 2 * q}, {g + 8, 2*q + 1}},
		{{g, 2*q + 8}, {g, 2*q + 9}},
		{{g + 8, 2*q + 8}, {g + 8, 2*q + 9}},
	}
}

func tableB16(lane int) [2][2]cell {
	g, q := lane>>2, lane%4
	return [2][2]cell{{{2 * q, g}, {2*q + 1, g}}, {{2*q + 8, g}, {2*q + 9, g}}}
}

func tableA8(lane int) [4]cell {
	g, q := lane>>2, lane%4
	return [4]cell{{g, q}, {g + 8, q}, {g, q + 4}, {g + 8, q + 4}}
}

func tableB8(lane int) [2]cell {
	g, q := lane>>2, lane%4
	return [2]cell{{q, g}, {q + 4, g}}
}

func tableC(lane int) [4]cell {
	g, q := lane>>2, lane%4
	return [4]cell{{g, 2 * q}, {g, 2*q + 1}, {g + 8, 2 * q}, {g + 8, 2*q + 1}}
}

// mmaKernel loads per-lane fragments (4 A words, 2 B words, 4 C floats, in a
// 48-byte record), runs one mma and stores D per lane.
func mmaKernel(shape, ab string, convertA bool) string {
	cvt := ""
	if convertA {
		cvt = `
	cvt.rna.tf32.f32 %a0, %a0;
	cvt.rna.tf32.f32 %a1, %a1;
	cvt.rna.tf32.f32 %a2, %a2;
	cvt.rna.tf32.f32 %a3, %a3;
	cvt.rna.tf32.f32 %b0, %b0;
	cvt.rna.tf32.f32 %b1, %b1;`
	}
	return header + fmt.Sprintf(`
.visible .entry k(.param .u64 frag, .param .u64 out)
{
	.reg .b32 %%r0, %%a0, %%a1, %%a2, %%a3, %%b0, %%b1;
	.reg .f32 %%c<4>, %%d<4>;
	.reg .b64 %%rd<8>;
	ld.param.u64 %%rd1, [frag];
	ld.param.u64 %%rd2, [out];
	mov.u32 %%r0, %%laneid;
	mul.wide.u32 %%rd3, %%r0, 48;
	add.u64 %%rd4, %%rd1, %%rd3;
	ld.global.v4.b32 {%%a0, %%a1, %%a2, %%a3}, [%%rd4];
	ld.global.v2.b32 {%%b0, %%b1}, [%%rd4+16];
	ld.global.v2.f32 {%%c0, %%c1}, [%%rd4+24];
	ld.global.v2.f32 {%%c2, %%c3}, [%%rd4+32];%s
	mma.sync.aligned.%s.row.col.f32.%s.%s.f32 {%%d0, %%d1, %%d2, %%d3}, {%%a0, %%a1, %%a2, %%a3}, {%%b0, %%b1}, {%%c0, %%c1, %%c2, %%c3};
	mul.wide.u32 %%rd5, %%r0, 16;
	add.u64 %%rd6, %%rd2, %%rd5;
	st.global.v4.f32 [%%rd6], {%%d0, %%d1, %%d2, %%d3};
	ret;
}
`, cvt, shape, ab, ab)
}

func TestMmaF16BF16(t *testing.T) {
	for _, ab := range []string{"f16", "bf16"} {
		r := rand.New(rand.NewSource(3))
		var A [16][16]float64
		var B [16][8]float64
		var C [16][8]float64
		enc := func(v float64) uint32 {
			if ab == "f16" {
				return uint32(toHalf(v, rmRN))
			}
			return uint32(toBF16(v, rmRN))
		}
		for i := range A {
			for j := range A[i] {
				A[i][j] = float64(r.Intn(33)-16) / 8
			}
		}
		for i := range B {
			for j := range B[i] {
				B[i][j] = float64(r.Intn(33)-16) / 4
			}
		}
		for i := range C {
			for j := range C[i] {
				C[i][j] = float64(r.Intn(200) - 100)
			}
		}
		frag := make([]uint32, 32*12)
		for l := 0; l < 32; l++ {
			rec := frag[12*l:]
			for reg, cells := range tableA16(l) {
				rec[reg] = enc(A[cells[0].r][cells[0].c]) | enc(A[cells[1].r][cells[1].c])<<16
			}
			for reg, cells := range tableB16(l) {
				rec[4+reg] = enc(B[cells[0].r][cells[0].c]) | enc(B[cells[1].r][cells[1].c])<<16
			}
			for i, c := range tableC(l) {
				rec[6+i] = math.Float32bits(float32(C[c.r][c.c]))
			}
		}
		checkMma(t, mmaKernel("m16n8k16", ab, false), frag, A[:], B[:], C, 16, ab)
	}
}

func TestMmaTF32(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	A := make([][16]float64, 16)
	B := make([][8]float64, 8)
	var C [16][8]float64
	frag := make([]uint32, 32*12)
	// Inputs carry bits below tf32 precision; the kernel rounds them with
	// cvt.rna.tf32.f32 and the reference uses the same rounded values.
	raw := func() (uint32, float64) {
		f := float32(r.NormFloat64())
		return math.Float32bits(f), float64(math.Float32frombits(toTF32(float64(f), rmRNA)))
	}
	for l := 0; l < 32; l++ {
		rec := frag[12*l:]
		for i, c := range tableA8(l) {
			rec[i], A[c.r][c.c] = raw()
		}
		for i, c := range tableB8(l) {
			rec[4+i], B[c.r][c.c] = raw()
		}
	}
	for i := range C {
		for j := range C[i] {
			C[i][j] = float64(float32(r.NormFloat64()))
		}
	}
	for l := 0; l < 32; l++ {
		for i, c := range tableC(l) {
			frag[12*l+6+i] = math.Float32bits(float32(C[c.r][c.c]))
		}
	}
	bb := make([][8]float64, 16)
	copy(bb, B)
	checkMma(t, mmaKernel("m16n8k8", "tf32", true), frag, A, bb, C, 8, "tf32")
}

func checkMma(t *testing.T, src string, frag []uint32, A [][16]float64, B [][8]float64, C [16][8]float64, K int, name string) {
	t.Helper()
	d := NewDevice()
	fp, out := d.Alloc(4*len(frag)), d.Alloc(16*32)
	d.WriteUint32s(fp, frag)
	if err := launch1(t, d, src, "k", 1, 32, uint64(fp), uint64(out)); err != nil {
		t.Fatal(err)
	}
	got, _ := d.ReadFloat32s(out, 128)
	seen := 0
	for l := 0; l < 32; l++ {
		for i, c := range tableC(l) {
			want := C[c.r][c.c]
			for k := 0; k < K; k++ {
				want += A[c.r][k] * B[k][c.c]
			}
			if g := got[4*l+i]; math.Abs(float64(g)-want) > 1e-6*math.Max(1, math.Abs(want)) {
				t.Errorf("%s: D[%d][%d] = %v, want %v", name, c.r, c.c, g, want)
			}
			seen++
		}
	}
	if seen != 128 {
		t.Fatalf("covered %d cells", seen)
	}
}

// TestLdmatrixFeedsMma uses the standard addressing that loads mma
// fragments straight from row-major shared tiles: ldmatrix.x4 for A,
// ldmatrix.x2 for B stored as [n][k], and ldmatrix.x2.trans for B stored as
// [k][n]. The products must equal a plain matrix product.
func TestLdmatrixFeedsMma(t *testing.T) {
	for _, trans := range []bool{false, true} {
		src := header + `
.visible .entry k(.param .u64 a, .param .u64 b, .param .u64 out)
{
	.shared .align 16 .b8 sa[512];
	.shared .align 16 .b8 sb[256];
	.reg .pred %p;
	.reg .b32 %r<20>, %a<4>, %b<2>;
	.reg .f32 %d<4>;
	.reg .b64 %rd<12>;
	ld.param.u64 %rd1, [a];
	ld.param.u64 %rd2, [b];
	ld.param.u64 %rd3, [out];
	mov.u32 %r1, %laneid;
	// copy A (512 bytes) and B (256 bytes) into shared, 16 bytes per lane
	mul.wide.u32 %rd4, %r1, 16;
	add.u64 %rd5, %rd1, %rd4;
	mov.u32 %r2, sa;
	mad.lo.u32 %r3, %r1, 16, %r2;
	cp.async.cg.shared.global [%r3], [%rd5], 16;
	setp.lt.u32 %p, %r1, 16;
	@%p add.u64 %rd6, %rd2, %rd4;
	mov.u32 %r4, sb;
	mad.lo.u32 %r5, %r1, 16, %r4;
	@%p cp.async.ca.shared.global [%r5], [%rd6], 16;
	cp.async.commit_group;
	cp.async.wait_group 0;
	bar.sync 0;
	// A: lane l gives row l%16, column block l/16
	and.b32 %r6, %r1, 15;
	shr.u32 %r7, %r1, 4;
	mul.lo.u32 %r8, %r6, 32;
	mad.lo.u32 %r8, %r7, 16, %r8;
	add.u32 %r8, %r8, %r2;
	ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%a0, %a1, %a2, %a3}, [%r8];
	` + map[bool]string{false: `
	// B as [n][k]: lane l gives row n = l%8, k block (l/8)%2
	and.b32 %r9, %r1, 7;
	bfe.u32 %r10, %r1, 3, 1;
	mul.lo.u32 %r11, %r9, 32;
	mad.lo.u32 %r11, %r10, 16, %r11;
	add.u32 %r11, %r11, %r4;
	ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%b0, %b1}, [%r11];`, true: `
	// B as [k][n]: lane l gives row k = l%16
	mul.lo.u32 %r11, %r6, 16;
	add.u32 %r11, %r11, %r4;
	ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%b0, %b1}, [%r11];`}[trans] + `
	mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%d0, %d1, %d2, %d3}, {%a0, %a1, %a2, %a3}, {%b0, %b1}, {0f00000000, 0f00000000, 0f00000000, 0f00000000};
	mul.wide.u32 %rd7, %r1, 16;
	add.u64 %rd8, %rd3, %rd7;
	st.global.v4.f32 [%rd8], {%d0, %d1, %d2, %d3};
	ret;
}
`
		r := rand.New(rand.NewSource(5))
		var A [16][16]float64
		var B [16][8]float64
		ah := make([]uint16, 256)
		bh := make([]uint16, 128)
		for i := 0; i < 16; i++ {
			for j := 0; j < 16; j++ {
				A[i][j] = float64(r.Intn(17)-8) / 4
				ah[16*i+j] = toHalf(A[i][j], rmRN)
			}
		}
		for k := 0; k < 16; k++ {
			for n := 0; n < 8; n++ {
				B[k][n] = float64(r.Intn(17) - 8)
				if trans {
					bh[8*k+n] = toHalf(B[k][n], rmRN)
				} else {
					bh[16*n+k] = toHalf(B[k][n], rmRN)
				}
			}
		}
		d := NewDevice()
		pa, pb, out := d.Alloc(512), d.Alloc(256), d.Alloc(512)
		d.WriteUint16s(pa, ah)
		d.WriteUint16s(pb, bh)
		if err := launch1(t, d, src, "k", 1, 32, uint64(pa), uint64(pb), uint64(out)); err != nil {
			t.Fatal(err)
		}
		got, _ := d.ReadFloat32s(out, 128)
		for l := 0; l < 32; l++ {
			for i, c := range tableC(l) {
				var want float64
				for k := 0; k < 16; k++ {
					want += A[c.r][k] * B[k][c.c]
				}
				if float64(got[4*l+i]) != want {
					t.Errorf("trans=%v D[%d][%d] = %v want %v", trans, c.r, c.c, got[4*l+i], want)
				}
			}
		}
	}
}

func TestLdmatrixX1Layout(t *testing.T) {
	// One 8x8 matrix whose element (r,c) holds r*8+c: lane l must receive
	// elements (l/4, 2(l%4)) and (l/4, 2(l%4)+1), or transposed.
	for _, trans := range []string{"", ".trans"} {
		src := header + `
.visible .entry k(.param .u64 out)
{
	.shared .align 16 .b16 m[64];
	.reg .pred %p;
	.reg .b32 %r<10>;
	.reg .b64 %rd<4>;
	ld.param.u64 %rd1, [out];
	mov.u32 %r1, %laneid;
	mov.u32 %r2, m;
	mad.lo.u32 %r3, %r1, 4, %r2;
	shl.b32 %r4, %r1, 1;
	add.u32 %r5, %r4, 1;
	shl.b32 %r5, %r5, 16;
	or.b32 %r4, %r4, %r5;
	st.shared.u32 [%r3], %r4;
	bar.sync 0;
	and.b32 %r6, %r1, 7;
	mad.lo.u32 %r7, %r6, 16, %r2;
	ldmatrix.sync.aligned.m8n8.x1` + trans + `.shared.b16 {%r8}, [%r7];
	mul.wide.u32 %rd2, %r1, 4;
	add.u64 %rd3, %rd1, %rd2;
	st.global.u32 [%rd3], %r8;
	ret;
}
`
		d := NewDevice()
		out := d.Alloc(128)
		if err := launch1(t, d, src, "k", 1, 32, uint64(out)); err != nil {
			t.Fatal(err)
		}
		got, _ := d.ReadUint32s(out, 32)
		for l := 0; l < 32; l++ {
			r, c := l/4, 2*(l%4)
			lo, hi := r*8+c, r*8+c+1
			if trans != "" {
				lo, hi = c*8+r, (c+1)*8+r
			}
			if want := uint32(lo) | uint32(hi)<<16; got[l] != want {
				t.Errorf("%s lane %d: got %#x want %#x", trans, l, got[l], want)
			}
		}
	}
}
