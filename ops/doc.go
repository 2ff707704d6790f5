// Package ops applies NF4 weights in gorgonia graphs: a linear op
// (y = x·Wᵀ, differentiable with respect to x only), a dequantize op, and a
// LoRA layer (a frozen NF4 base plus trainable low-rank adapters).
//
// The ops run on the nf4.Engine stamped on their activations by the VM
// (gorgonia.WithEngine), or on the CPU when there is none.
package ops
