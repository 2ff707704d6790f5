package llama

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The graph and the direct path compute the same logits, float and NF4,
// with LoRA adapters on every projection.
func TestGraphMatchesDirect(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tied, bias bool
		quantize   bool
	}{{"float", false, true, false}, {"nf4-tied", true, false, true}, {"nf4-bias", false, true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			m := tinyModel(t, tc.tied, tc.bias, 7)
			if tc.quantize {
				if err := m.Quantize(QuantizeOptions{DoubleQuant: true}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := m.AddLoRA(LoRAConfig{Rank: 4, Targets: AllModules, Seed: 3}); err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 1))
			for _, l := range m.Adapted() {
				for i, b := range l.LoRA.B.Data().([]float32) {
					_ = b
					l.LoRA.B.Data().([]float32)[i] = float32(0.05 * r.NormFloat64())
				}
			}
			const batch, seq = 3, 11
			g, err := m.Graph(GraphOptions{Batch: batch, Seq: seq})
			if err != nil {
				t.Fatal(err)
			}
			var seqs [][]int
			for range batch {
				seqs = append(seqs, randomIDs(r, seq+1, m.Config.VocabSize))
			}
			b, err := NextTokenBatch(seqs)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.Run(b); err != nil {
				t.Fatal(err)
			}
			got := g.Logits()
			V := m.Config.VocabSize
			for i, s := range seqs {
				want, err := m.Logits(s[:seq])
				if err != nil {
					t.Fatal(err)
				}
				if e := relErr(got[i*seq*V:(i+1)*seq*V], want); e > 1e-5 {
					t.Errorf("sequence %d: graph vs direct logits: relative error %.3g", i, e)
				}
			}
		})
	}
}

// Gradients of the loss match central differences along a random direction.
func TestGraphGradients(t *testing.T) {
	for _, tc := range []struct {
		name string
		full bool
	}{{"lora", false}, {"full", true}} {
		t.Run(tc.name, func(t *testing.T) {
			m := tinyModel(t, tc.full, true, 11)
			if !tc.full {
				if err := m.Quantize(QuantizeOptions{}); err != nil {
					t.Fatal(err)
				}
				if _, err := m.AddLoRA(LoRAConfig{Rank: 3, Targets: AllModules, Seed: 5}); err != nil {
					t.Fatal(err)
				}
			}
			r := rand.New(rand.NewPCG(2, 2))
			for _, l := range m.Adapted() {
				d := l.LoRA.B.Data().([]float32)
				for i := range d {
					d[i] = float32(0.1 * r.NormFloat64())
				}
			}
			const batch, seq = 2, 9
			g, err := m.Graph(GraphOptions{Batch: batch, Seq: seq, Train: true, Full: tc.full})
			if err != nil {
				t.Fatal(err)
			}
			seqs := [][]int{randomIDs(r, seq+1, m.Config.VocabSize), randomIDs(r, seq+1, m.Config.VocabSize)}
			b, _ := NextTokenBatch(seqs)
			b.Targets[3] = IgnoreIndex
			if _, err := g.Run(b); err != nil {
				t.Fatal(err)
			}
			grads, err := g.Grads()
			if err != nil {
				t.Fatal(err)
			}
			eval, err := m.Graph(GraphOptions{Batch: batch, Seq: seq})
			if err != nil {
				t.Fatal(err)
			}
			// each learnable on its own, so that no gradient hides behind another
			const eps = 1e-3
			for i, p := range g.Params {
				v := p.Data().([]float32)
				d := make([]float64, len(v))
				var dot float64
				for j := range d {
					d[j] = r.NormFloat64()
					dot += d[j] * float64(grads[i][j])
				}
				shift := func(s float64) {
					for j := range v {
						v[j] += float32(s * d[j])
					}
				}
				shift(eps)
				up, err := eval.Run(b)
				if err != nil {
					t.Fatal(err)
				}
				shift(-2 * eps)
				down, err := eval.Run(b)
				if err != nil {
					t.Fatal(err)
				}
				shift(eps)
				fd := (up - down) / (2 * eps)
				if e := math.Abs(fd - dot); e > 2e-2*math.Abs(dot)+2e-3 {
					t.Errorf("%s: directional derivative %.6g, central difference %.6g", g.Names[i], dot, fd)
				}
			}
		})
	}
}
