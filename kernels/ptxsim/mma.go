package ptxsim

import "math"

// Fragment layouts of mma.sync (PTX ISA, "Matrix fragments for mma.m16n8k16"
// and "mma.m16n8k8"): with g = lane/4 and q = lane%4,
//
//	m16n8k16 .f16/.bf16  A a0..a7 (2 per register, low half first):
//	                       row g (+8 for a2,a3,a6,a7), col 2q+(i&1) (+8 for i>=4)
//	                     B b0..b3: row 2q+(i&1) (+8 for i>=2), col g
//	m16n8k8 .tf32        A a0..a3: row g (+8 for a1,a3), col q (+4 for a2,a3)
//	                     B b0,b1:  row q (+4 for b1), col g
//	C and D (f32)        c0..c3:   row g (+8 for c2,c3), col 2q+(i&1)

func fragA16(lane, i int) (row, col int) {
	g, q := lane/4, lane%4
	row = g
	if i == 2 || i == 3 || i >= 6 {
		row += 8
	}
	col = 2*q + i&1
	if i >= 4 {
		col += 8
	}
	return
}

func fragB16(lane, i int) (row, col int) {
	g, q := lane/4, lane%4
	row = 2*q + i&1
	if i >= 2 {
		row += 8
	}
	return row, g
}

func fragA8(lane, i int) (row, col int) {
	g, q := lane/4, lane%4
	row, col = g, q
	if i == 1 || i == 3 {
		row += 8
	}
	if i >= 2 {
		col += 4
	}
	return
}

func fragB8(lane, i int) (row, col int) {
	g, q := lane/4, lane%4
	row = q
	if i == 1 {
		row += 4
	}
	return row, g
}

func fragC(lane, i int) (row, col int) {
	g, q := lane/4, lane%4
	row = g
	if i >= 2 {
		row += 8
	}
	return row, 2*q + i&1
}

// mma computes D = A·B + C for one warp. Products of f16, bf16 and tf32
// values are exact in float64; the sum is rounded once to f32.
func (b *blockRun) mma(in *inst, lanes *[32]*thread) {
	var A [16][16]float64
	var B [16][8]float64
	var C [16][8]float64
	K := 16
	for l, u := range lanes {
		r := u.regs
		if in.sub == mmaM16N8K16 {
			for i := 0; i < 8; i++ {
				h := uint16(r[in.va[i/2]] >> (16 * uint(i&1)))
				row, col := fragA16(l, i)
				A[row][col] = halfOrBF16(h, in.t)
			}
			for i := 0; i < 4; i++ {
				h := uint16(r[in.vb[i/2]] >> (16 * uint(i&1)))
				row, col := fragB16(l, i)
				B[row][col] = halfOrBF16(h, in.t)
			}
		} else {
			K = 8
			for i := 0; i < 4; i++ {
				row, col := fragA8(l, i)
				A[row][col] = float64(math.Float32frombits(uint32(r[in.va[i]]) &^ 0x1fff))
			}
			for i := 0; i < 2; i++ {
				row, col := fragB8(l, i)
				B[row][col] = float64(math.Float32frombits(uint32(r[in.vb[i]]) &^ 0x1fff))
			}
		}
		for i := 0; i < 4; i++ {
			row, col := fragC(l, i)
			C[row][col] = float64(f32(r[in.vc[i]]))
		}
	}
	for l, u := range lanes {
		for i := 0; i < 4; i++ {
			row, col := fragC(l, i)
			s := C[row][col]
			for k := 0; k < K; k++ {
				s += A[row][k] * B[k][col]
			}
			u.regs[in.vd[i]] = b32(float32(s))
		}
	}
}

func halfOrBF16(h uint16, t ptype) float64 {
	if t == tyBF16 {
		return float64(bf16ToF32(h))
	}
	return halfToF64(h)
}

// ldmatrix loads 8x8 matrices of 16-bit elements from shared memory. Lanes
// 8j..8j+7 give the row addresses of matrix j; lane l receives, for each
// matrix, row l/4 elements 2(l%4) and 2(l%4)+1, or with .trans column l/4
// elements at rows 2(l%4) and 2(l%4)+1.
func (b *blockRun) ldmatrix(in *inst, lanes *[32]*thread) error {
	var rows [4][8][]byte
	for j := 0; j < int(in.n); j++ {
		for r := 0; r < 8; r++ {
			u := lanes[8*j+r]
			addr := uint64(int64(u.regs[in.a]) + in.off)
			m, err := b.access(u, spShared, addr, 16, false, false)
			if err != nil {
				return err
			}
			rows[j][r] = m
		}
	}
	var out [32][4]uint64
	for l := range lanes {
		for j := 0; j < int(in.n); j++ {
			if in.flags&fTrans == 0 {
				m := rows[j][l/4]
				out[l][j] = loadLE(m[4*(l%4) : 4*(l%4)+4])
			} else {
				c := 2 * (l / 4)
				lo := loadLE(rows[j][2*(l%4)][c : c+2])
				hi := loadLE(rows[j][2*(l%4)+1][c : c+2])
				out[l][j] = lo | hi<<16
			}
		}
	}
	for l, u := range lanes {
		for j := 0; j < int(in.n); j++ {
			u.regs[in.vd[j]] = out[l][j]
		}
	}
	return nil
}
