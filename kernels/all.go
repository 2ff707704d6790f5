package kernels

// All returns the kernel configurations the project ships and checks: every
// kernel type at the default block size 64, plus the extreme block sizes and
// double-quantized scales where they change the code, and every kernel type
// once for the FP4 table.
func All() []Kernel {
	var ks []Kernel
	add := func(k Kernel, err error) {
		if err == nil {
			ks = append(ks, k)
		}
	}
	for _, o := range []OutType{OutF32, OutF16, OutBF16} {
		add(NewDequantize(o, 64, false))
	}
	add(NewDequantize(OutF32, 64, true))
	add(NewDequantize(OutF32, 32, false))
	add(NewDequantize(OutBF16, 4096, true))
	for _, b := range []int{32, 64, 4096} {
		add(NewQuantize(b))
	}
	for m := 1; m <= MaxGemvM; m++ {
		add(NewGemv(m, 64, false))
	}
	// The fewer rows per block GemvRowsFor may choose: the least each M
	// takes, and M = 1's choice at N = 11008 on 132 SMs.
	for m := 1; m <= MaxGemvM; m++ {
		least, most := GemvRowChoices(m)
		rows := []int{least}
		if m == 1 {
			rows = append(rows, 14)
		}
		for _, r := range rows {
			if r < most {
				add(&Gemv{M: m, BlockSize: 64, Rows: r}, nil)
			}
		}
	}
	add(NewGemv(1, 64, true))
	add(NewGemv(4, 32, false))
	add(NewGemv(8, 4096, true))
	for _, t := range []bool{false, true} {
		add(NewGemm(64, false, t))
		add(NewGemm(64, true, t))
		add(NewGemm(32, false, t))
	}
	for m := MinGemvTCM; m <= MaxGemvM; m++ {
		add(NewGemvTC(m, 64, false))
	}
	// The tiles per block GemvTCTilesFor may choose besides the default,
	// with the most registers (M = 8), and the scale kinds and extreme
	// block sizes (four scales a unit at 32, one per several units at 4096).
	for t := 1; t <= MaxGemvTCTiles; t++ {
		if t != gemvTCTiles {
			add(&GemvTC{M: 8, BlockSize: 64, Tiles: t}, nil)
		}
	}
	add(&GemvTC{M: 8, BlockSize: 64, DoubleQuant: true, Tiles: MaxGemvTCTiles}, nil)
	add(&GemvTC{M: 2, BlockSize: 32, Tiles: GemvTCMaxTiles(32)}, nil)
	add(NewGemvTC(5, 4096, true))
	// Two B tiles (M = 9…16), with the most registers (double-quantized
	// scales at 2 tiles, four scales a unit at block size 32).
	add(NewGemvTC(16, 64, false))
	add(&GemvTC{M: 16, BlockSize: 64, Tiles: 1}, nil)
	add(NewGemvTC(9, 64, true))
	add(NewGemvTC(16, 128, true))
	add(NewGemvTC(16, 32, true))
	add(NewGemvTC(9, 4096, false))
	add(NewGemmTC(64, false))
	add(NewGemmTC(64, true))
	add(NewGemmTC(32, false))
	add(NewGemmTCTransposed(64, false))
	add(NewGemmTCTransposed(64, true))
	add(NewGemmTCTransposed(32, false))
	add(NewGemmWG(64, false))
	add(NewGemmWG(64, true))
	add(NewGemmWG(32, false))
	add(&GemmWG{BlockSize: 64, Rows: 256}, nil)
	add(&GemmWG{BlockSize: 64, DoubleQuant: true, Rows: 256}, nil)
	// Split along the reduction (the same code for every split count).
	add(&GemmTC{BlockSize: 64, Splits: 2}, nil)
	add(&GemmTC{BlockSize: 64, DoubleQuant: true, Splits: 2}, nil)
	add(&GemmTC{BlockSize: 64, Transposed: true, Splits: 2}, nil)
	add(&GemmTC{BlockSize: 32, DoubleQuant: true, Transposed: true, Splits: 2}, nil)
	add(&GemmWG{BlockSize: 64, Splits: 2}, nil)
	add(&GemmWG{BlockSize: 32, DoubleQuant: true, Splits: 2}, nil)
	add(&GemmWG{BlockSize: 64, DoubleQuant: true, Rows: 256, Splits: 2}, nil)
	fp4 := func(k Kernel, err error) {
		if err == nil {
			add(ForQuant(k, FP4))
		}
	}
	fp4(NewDequantize(OutF32, 64, true))
	fp4(NewQuantize(64))
	fp4(NewGemv(1, 64, false))
	fp4(NewGemv(4, 64, true))
	fp4(NewGemm(64, true, false))
	fp4(NewGemm(64, false, true))
	fp4(NewGemmTC(64, false))
	fp4(NewGemvTC(8, 64, true))
	fp4(NewGemmTCTransposed(64, true))
	fp4(NewGemmWG(64, true))
	return ks
}
