// Package nf4 lets gorgonia graphs hold weights in NF4, the 4-bit
// NormalFloat format of QLoRA, and run them fast.
//
// A float weight W[N, K] (Linear convention: N outputs, K inputs) is
// quantized into a *Tensor: blocks of BlockSize values along K, each with one
// absmax scale, every value replaced by one of 16 NF4 codes with
// bitsandbytes' rule (bucketize x·(1/absmax) against the codebook's float32
// midpoints), so the bytes are those bitsandbytes writes. A Tensor
// is a gorgonia Value of type "Matrix nf4", so it binds to an input node:
//
//	w, _ := nf4.Quantize(dense)
//	W := gorgonia.NewTensor(g, nf4.Dtype, 2, gorgonia.WithName("w"), gorgonia.WithValue(w))
//
// The ops package applies it (y = x·Wᵀ, with gradients w.r.t. x), and an
// Engine plugged into a gorgonia VM runs those ops; every float32/float64
// operation runs exactly as with gorgonia's standard engine.
package nf4
