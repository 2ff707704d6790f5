package llama

import (
	"math"
	"math/rand/v2"
	"testing"
)

// tinyConfig is a small Llama with every feature on: grouped-query
// attention, llama3 rope scaling, biases when asked.
func tinyConfig(tied, bias bool) *Config {
	return &Config{ModelType: "llama", VocabSize: 97, HiddenSize: 64, IntermediateSize: 128,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 64,
		RMSNormEps: 1e-5, RopeTheta: 10000, HiddenAct: "silu", TieWordEmbeddings: tied,
		AttentionBias: bias, MLPBias: bias,
		RopeScaling: &RopeScaling{RopeType: "llama3", Factor: 4, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 16}}
}

// tinyModel is a random float model whose norms and biases are random too.
func tinyModel(t testing.TB, tied, bias bool, seed uint64) *Model {
	t.Helper()
	m, err := New(tinyConfig(tied, bias), seed)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 2))
	jitter := func(v []float32, base, spread float64) {
		for i := range v {
			v[i] = float32(base + spread*(2*r.Float64()-1))
		}
	}
	for _, l := range m.Layers {
		jitter(l.InputNorm.Data().([]float32), 1, 0.5)
		jitter(l.PostNorm.Data().([]float32), 1, 0.5)
		for _, p := range l.Linears() {
			if p.Bias != nil {
				jitter(p.Bias, 0, 0.05)
			}
		}
	}
	jitter(m.Norm.Data().([]float32), 1, 0.5)
	return m
}

func randomIDs(r *rand.Rand, n, vocab int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = r.IntN(vocab)
	}
	return ids
}

// relErr is ‖got − want‖/‖want‖ in float64.
func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}
