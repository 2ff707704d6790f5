package llama

import (
	"math/rand/v2"
	"testing"
	"time"
)

// benchConfig is a mid-sized Llama (45M parameters in its layers, a
// vocabulary of 8192): big enough that the products dominate a step.
func benchConfig() *Config {
	return &Config{ModelType: "llama", VocabSize: 8192, HiddenSize: 1024, IntermediateSize: 2816,
		NumHiddenLayers: 4, NumAttentionHeads: 16, NumKeyValueHeads: 4, MaxPositionEmbeddings: 512,
		RMSNormEps: 1e-5, RopeTheta: 500000, HiddenAct: "silu"}
}

func benchModel(b *testing.B, quantize bool) *Model {
	b.Helper()
	m, err := New(benchConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	if quantize {
		if err := m.Quantize(QuantizeOptions{DoubleQuant: true}); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

// BenchmarkDecode times one decode step (batch 1, 64 tokens cached) of the
// NF4 model and, side by side in the same loop, the products of that step
// alone (every projection and lm_head on one row): step/gemv is the
// model's overhead outside the products.
func BenchmarkDecode(b *testing.B) {
	for _, q := range []struct {
		name     string
		quantize bool
	}{{"nf4", true}, {"float32", false}} {
		b.Run(q.name, func(b *testing.B) {
			m := benchModel(b, q.quantize)
			r := rand.New(rand.NewPCG(1, 1))
			prompt := randomIDs(r, 64, m.Config.VocabSize)
			c := m.newCache(64 + b.N + 1)
			var s scratch
			if _, _, err := m.forward(&s, []*kvCache{c}, [][]int{prompt}); err != nil {
				b.Fatal(err)
			}
			x := make([]float32, m.Config.IntermediateSize)
			out := make([]float32, max(m.Config.VocabSize, m.Config.IntermediateSize))
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			var step, gemv time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				h, _, err := m.forward(&s, []*kvCache{c}, [][]int{{i % m.Config.VocabSize}})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := m.logits(h, 1); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				for _, l := range m.Linears() {
					if err := l.forward(m.engine, out, x, 1); err != nil {
						b.Fatal(err)
					}
				}
				if m.LMHead == m.Embed {
					if err := m.LMHead.forward(m.engine, out, x, 1); err != nil {
						b.Fatal(err)
					}
				}
				step += t1.Sub(t0)
				gemv += time.Since(t1)
			}
			b.ReportMetric(float64(b.N)/step.Seconds(), "tokens/s")
			b.ReportMetric(step.Seconds()/gemv.Seconds(), "step/gemv")
			stored, f32 := m.Memory()
			b.ReportMetric(float64(stored)/(1<<20), "weight-MiB")
			b.ReportMetric(float64(f32)/(1<<20), "float32-MiB")
		})
	}
}

// BenchmarkGenerate runs Generate end to end (prefill of 32 tokens, 32 new
// tokens, batch 1 and batch 4).
func BenchmarkGenerate(b *testing.B) {
	m := benchModel(b, true)
	r := rand.New(rand.NewPCG(2, 2))
	for _, n := range []int{1, 4} {
		b.Run(map[int]string{1: "batch1", 4: "batch4"}[n], func(b *testing.B) {
			var ps [][]int
			for range n {
				ps = append(ps, randomIDs(r, 32, m.Config.VocabSize))
			}
			var tps float64
			for i := 0; i < b.N; i++ {
				g, err := m.Generate(ps, GenerateOptions{MaxNewTokens: 32, Stop: []int{}})
				if err != nil {
					b.Fatal(err)
				}
				tps += g.TokensPerSecond()
			}
			b.ReportMetric(tps/float64(b.N), "decode-tokens/s")
		})
	}
}

// BenchmarkTrainStep times one optimizer step on the examples/llama
// model: LoRA on every projection over NF4, and float32 pretraining.
func BenchmarkTrainStep(b *testing.B) {
	cfg := &Config{ModelType: "llama", VocabSize: 512, HiddenSize: 128, IntermediateSize: 384, NumHiddenLayers: 4,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 256, RMSNormEps: 1e-5, RopeTheta: 10000, HiddenAct: "silu"}
	const batch, seq = 8, 64
	for _, full := range []bool{false, true} {
		name := "lora-nf4"
		if full {
			name = "full-float32"
		}
		b.Run(name, func(b *testing.B) {
			m, err := New(cfg, 1)
			if err != nil {
				b.Fatal(err)
			}
			if !full {
				if err := m.Quantize(QuantizeOptions{DoubleQuant: true}); err != nil {
					b.Fatal(err)
				}
				if _, err := m.AddLoRA(LoRAConfig{Rank: 8, Targets: AllModules, Dropout: 0.05, Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
			g, err := m.Graph(GraphOptions{Batch: batch, Seq: seq, Train: true, Full: full, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			tr, err := NewTrainer(g, TrainConfig{LR: 1e-3, Steps: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 3))
			var seqs [][]int
			for range batch {
				seqs = append(seqs, randomIDs(r, seq+1, cfg.VocabSize))
			}
			bt, _ := NextTokenBatch(seqs)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := tr.Step(bt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch*seq)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
