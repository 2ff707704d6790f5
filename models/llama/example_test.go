package llama_test

import (
	"fmt"
	"log"

	"github.com/nf4go/nf4/models/llama"
	"github.com/nf4go/nf4/models/tokenizer"
)

// Build a small random Llama, quantize it, run it, and fine-tune LoRA
// adapters for a step.
func Example() {
	cfg := &llama.Config{VocabSize: 100, HiddenSize: 64, IntermediateSize: 128, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 32}
	m, err := llama.New(cfg, 1)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Quantize(llama.QuantizeOptions{DoubleQuant: true}); err != nil {
		log.Fatal(err)
	}
	logits, err := m.Logits([]int{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(logits), "logits")
	gen, err := m.Generate([][]int{{1, 2, 3}, {4}}, llama.GenerateOptions{MaxNewTokens: 5, Stop: []int{}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(gen.Tokens[0]), len(gen.Tokens[1]), gen.Reasons)

	adapted, err := m.AddLoRA(llama.LoRAConfig{Rank: 4, Targets: llama.AllModules, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	g, err := m.Graph(llama.GraphOptions{Batch: 1, Seq: 8, Train: true})
	if err != nil {
		log.Fatal(err)
	}
	tr, err := llama.NewTrainer(g, llama.TrainConfig{LR: 1e-3, Steps: 10})
	if err != nil {
		log.Fatal(err)
	}
	b, _ := llama.NextTokenBatch([][]int{{1, 2, 3, 4, 5, 6, 7, 8, 9}})
	if _, err := tr.Step(b); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(adapted), "adapted modules,", len(g.Learnables), "learnables")
	// Output:
	// 300 logits
	// 5 5 [length length]
	// 14 adapted modules, 28 learnables
}

// The README's tour of the model: load a Hugging Face folder, generate,
// fine-tune LoRA adapters, save them for PEFT (compiled, not run: it
// needs a model folder).
func Example_readme() {
	var batches []llama.Batch
	m, err := llama.Load("TinyLlama-dir", llama.LoadOptions{}) // float weights are quantized as they load
	tok, err := tokenizer.Load("TinyLlama-dir/tokenizer.json") // byte-level or SentencePiece-style BPE
	gen, err := m.Generate([][]int{tok.Encode("The capital of France is", true)},
		llama.GenerateOptions{MaxNewTokens: 32, Temperature: 0.7, TopP: 0.9, Seed: 1})
	// the new tokens, and the decoding speed
	fmt.Println(gen.Tokens[0], gen.TokensPerSecond())

	m.AddLoRA(llama.LoRAConfig{Rank: 8, Alpha: 16, Dropout: 0.05, Targets: llama.AllModules})
	g, err := m.Graph(llama.GraphOptions{Batch: 8, Seq: 128, Train: true}) // a gorgonia graph: NF4 ops.Linear + LoRA
	tr, err := llama.NewTrainer(g, llama.TrainConfig{LR: 2e-4, Steps: 1000, Warmup: 50, Accumulate: 4, ClipNorm: 1})
	st, err := tr.Step(batches...)            // AdamW, warm-up + cosine, accumulation, clipping
	m.SaveAdapter("adapter", "TinyLlama-dir") // PEFT's layout; `nf4 merge` merges it
	_, _, _ = st, err, g
}
