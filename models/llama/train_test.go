package llama

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestLRSchedule(t *testing.T) {
	c, err := TrainConfig{LR: 1, MinLR: 0.1, Steps: 10, Warmup: 3}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]float64{0: 0.25, 2: 0.75, 3: 1, 10: 0.1, 20: 0.1}
	for s, w := range want {
		if got := c.LRAt(s); math.Abs(got-w) > 1e-12 {
			t.Errorf("LRAt(%d) = %v, want %v", s, got, w)
		}
	}
	if c.LRAt(6) <= c.LRAt(7) || c.LRAt(5) > 0.55+0.45*math.Cos(math.Pi*2/7)+1e-12 {
		t.Errorf("the schedule does not decay: %v %v", c.LRAt(6), c.LRAt(7))
	}
	for _, bad := range []TrainConfig{{Steps: 0}, {Steps: 5, Warmup: 6}, {Steps: 5, LR: math.NaN()}, {Steps: 5, Beta2: 1}, {Steps: 5, Accumulate: -1}} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// One step with accumulation and clipping equals AdamW computed here in
// float64 from the gradients of each batch; only the adapters move.
func TestTrainerStepMatchesReference(t *testing.T) {
	m := tinyModel(t, false, false, 21)
	if err := m.Quantize(QuantizeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddLoRA(LoRAConfig{Rank: 4, Targets: []string{"q_proj", "v_proj", "down_proj"}, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(4, 4))
	const batch, seq = 2, 8
	mk := func() Batch {
		b, _ := NextTokenBatch([][]int{randomIDs(r, seq+1, 97), randomIDs(r, seq+1, 97)})
		return b
	}
	b1, b2 := mk(), mk()
	g, err := m.Graph(GraphOptions{Batch: batch, Seq: seq, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := TrainConfig{LR: 1e-2, WeightDecay: 0.1, Steps: 4, Warmup: 1, Accumulate: 2, ClipNorm: 0.05}
	tr, err := NewTrainer(g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// reference gradients, before the step changes the weights
	before := make([][]float32, len(g.Params))
	for i, p := range g.Params {
		before[i] = append([]float32(nil), p.Data().([]float32)...)
	}
	avg := make([][]float64, len(g.Params))
	for _, b := range []Batch{b1, b2} {
		if _, err := g.Run(b); err != nil {
			t.Fatal(err)
		}
		grads, _ := g.Grads()
		for i, gr := range grads {
			if avg[i] == nil {
				avg[i] = make([]float64, len(gr))
			}
			for j, v := range gr {
				avg[i][j] += float64(v) / 2
			}
		}
	}
	var sq float64
	for _, a := range avg {
		for _, v := range a {
			sq += v * v
		}
	}
	norm := math.Sqrt(sq)
	st, err := tr.Step(b1, b2)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(st.GradNorm-norm) > 1e-6*norm || norm <= cfg.ClipNorm {
		t.Fatalf("grad norm %v, reference %v (clip at %v must bite)", st.GradNorm, norm, cfg.ClipNorm)
	}
	lr := 1e-2 * 1.0 / 2 // warm-up step 1 of 1
	if st.LR != lr {
		t.Fatalf("lr %v, want %v", st.LR, lr)
	}
	clip := cfg.ClipNorm / (norm + 1e-6)
	for i, p := range g.Params {
		got := p.Data().([]float32)
		for j := range got {
			gc := avg[i][j] * clip
			mh := (1 - 0.9) * gc / (1 - 0.9)
			vh := (1 - 0.999) * gc * gc / (1 - 0.999)
			want := float64(before[i][j])*(1-lr*0.1) - lr*mh/(math.Sqrt(vh)+1e-8)
			if math.Abs(float64(got[j])-want) > 1e-6 {
				t.Fatalf("%s[%d] = %v, reference AdamW %v", g.Names[i], j, got[j], want)
			}
		}
	}
	for _, n := range g.Names {
		if !(len(n) > 7 && (n[len(n)-7:] == ".lora_A" || n[len(n)-7:] == ".lora_B")) {
			t.Errorf("learnable %q is not an adapter", n)
		}
	}
}

// Training LoRA on a fixed batch lowers its loss, and Step refuses the
// wrong number of batches.
func TestTrainerLearns(t *testing.T) {
	m := tinyModel(t, true, false, 5)
	// larger embeddings, so that the frozen tied lm_head can express
	// confident predictions
	for i := range m.Embed.floats() {
		m.Embed.floats()[i] *= 10
	}
	if err := m.Quantize(QuantizeOptions{DoubleQuant: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddLoRA(LoRAConfig{Rank: 8, Targets: AllModules, Dropout: 0.05, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(6, 6))
	b, _ := NextTokenBatch([][]int{randomIDs(r, 17, 97), randomIDs(r, 17, 97)})
	g, err := m.Graph(GraphOptions{Batch: 2, Seq: 16, Train: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(g, TrainConfig{LR: 1e-2, Steps: 40, Warmup: 3, ClipNorm: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(b, b); err == nil {
		t.Error("Step took 2 batches with Accumulate 1")
	}
	first, last := 0.0, 0.0
	for s := range 40 {
		st, err := tr.Step(b)
		if err != nil {
			t.Fatal(err)
		}
		if s == 0 {
			first = st.Loss
		}
		last = st.Loss
	}
	if !(last < 0.3*first) {
		t.Errorf("loss %v → %v: LoRA did not learn the batch", first, last)
	}
	eval, err := m.Graph(GraphOptions{Batch: 2, Seq: 16})
	if err != nil {
		t.Fatal(err)
	}
	l, err := eval.Run(b)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := m.Logits(b.IDs[:16])
	if e := relErr(eval.Logits()[:16*97], direct); e > 1e-5 {
		t.Errorf("after training, graph and direct logits differ: %.3g", e)
	}
	t.Logf("loss %.3f → %.3f (eval %.3f)", first, last, l)
}
