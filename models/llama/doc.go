// Package llama is the Llama decoder as Hugging Face transformers defines
// it (LlamaForCausalLM), over nf4's engine and ops: token embedding,
// RMSNorm, rotary position embedding (rope_theta and the rope_scaling types
// "linear" and "llama3"), grouped-query attention with a causal mask, the
// SwiGLU MLP and a tied or untied lm_head.
//
// A Model is loaded from a Hugging Face folder (config.json and
// model.safetensors, or shards through model.safetensors.index.json) whose
// weights are float (F32, F16, BF16) or 4-bit in the bitsandbytes layout
// that `nf4 quantize` and transformers' BitsAndBytesConfig write. Every
// linear layer is an NF4 weight unless the user keeps it in float; the
// embedding, the norms and (by default) lm_head stay float.
//
// Two paths run the same arithmetic:
//
//   - Graph builds a gorgonia graph for a fixed batch and sequence length:
//     the NF4 layers are ops.Linear nodes, LoRA adapters (rank, alpha,
//     dropout, on any of q_proj … down_proj) are the only learnables, and
//     a Trainer runs AdamW with warm-up, cosine decay, gradient
//     accumulation and clipping.
//   - Generate and Logits run the engine directly with a key/value cache,
//     for prompts of any length, batched with padding masks: a new graph
//     per token would cost more than the products themselves.
//
// Adapters are saved and loaded in PEFT's format (checkpoint.SaveAdapter)
// and can be merged into the base with `nf4 merge`.
package llama
