// Package kernels holds the NF4 GPU kernels as Go values that print their own
// PTX (through package ptx); no nvcc, NVRTC or LLVM is involved.
//
// Every kernel reads the canonical layout: W[N,K] row-major, blocks of B
// values along K (K % B == 0), codes two per byte with element 2j in the low
// nibble, and one float32 absmax per block (block index n*(K/B) + k/B), or
// double-quantized scales decoded in the kernel as
//
//	absmax[i] = nestedMap[q[i]] * nestedAbsmax[i/256] + offset
//
// (a float32 multiply then a float32 add, both rounded, never fused).
//
// A Kernel describes everything a launcher needs:
//
//	Name()         the .entry name inside its PTX
//	Params()       parameter names in launch order; every one is .u64 (8 bytes):
//	               pointers as device addresses, integers as uint64, and a
//	               float32 scalar (the double-quantization offset) as its IEEE
//	               bits in the low 32 bits
//	Launch(shape)  grid, block and (static) shared bytes for a Shape{M,N,K,BlockSize}
//	PTX(target)    the module text for ptx.SM80 or ptx.SM90 (or 86/87/89)
//
// Static shared memory is declared in the PTX, so Launch.SharedBytes is
// informational: launch with 0 bytes of dynamic shared memory.
//
// The kernels (B is the block size, "scales" stands for absmax, or
// absmax_q, nested_map, nested_absmax, nested_offset with double
// quantization):
//
//	Dequantize  nf4_dequantize_<f32|f16|bf16>_b<B>[_dq]
//	            codes, scales, out, n            grid ⌈N·K/32/256⌉, block 256
//	Quantize    nf4_quantize_b<B>
//	            x, codes, absmax, n              grid ⌈N·K/B/8⌉, block 256
//	Gemv        nf4_gemv_m<M>[_r<rows>]_b<B>[_dq], M = 1…8
//	            x, codes, scales, y, n, k        grid ⌈N/rows⌉, block 128
//	GemvTC      nf4_gemv_tc_m<M>[_t<tiles>]_b<B>[_dq], M = 2…16, bf16 x
//	            x_bf16, codes, scales, y, n, k   grid ⌈N/(16·tiles)⌉, block 128, 34–40 KiB shared
//	Gemm        nf4_gemm_f32_b<B>[_dq]
//	            x, codes, scales, y, m, n, k     grid (⌈N/64⌉, ⌈M/64⌉), block 256, 16 KiB shared
//	Gemm (T)    nf4_gemm_t_f32_b<B>[_dq]
//	            dy, codes, scales, dx, m, n, k   grid (⌈K/64⌉, ⌈M/64⌉), block 256, 16 KiB shared
//	GemmTC      nf4_gemm_bf16tc[_sk]_b<B>[_dq], bf16 x
//	            x_bf16, codes, scales, y, [workspace,] m, n, k
//	                                             grid (⌈N/128⌉, ⌈M/128⌉, S), block 256, 47 KiB shared
//	GemmTC (T)  nf4_gemm_t_bf16tc[_sk]_b<B>[_dq]
//	            dy, codes, scales, dx, [workspace,] m, n, k
//	                                             grid (⌈K/128⌉, ⌈M/128⌉, S), block 256, 47 KiB shared
//	GemmWG      nf4_gemm_bf16wg[_sk]_b<B>[_n256][_dq], bf16 x by tensor copies, sm_90a only
//	            x_map, codes, scales, y, [workspace,] m, n, k
//	                                             grid (⌈N/128⌉, ⌈M/R⌉, S), R = 128 or 256, block 256,
//	                                             111 or 143 KiB dynamic shared (Launch.DynamicShared)
//
// _sk splits the reduction S = grid.z ways (Splits, chosen by TCSplitsFor, WGSplitsFor):
// workspace is 4·(S·M·cols + grid.x·grid.y) bytes (cols = N forward, K
// backward), zeroed once by the host, and zero again after every launch.
//
// Kernels never read or write out of bounds for any M, N ≥ 1 and K a multiple
// of the block size; a shape they cannot run is an error from Launch.
package kernels
