package llama

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nf4go/nf4"
)

// Greedy decoding with the cache picks, at every step, the argmax of the
// logits of the whole sequence computed afresh; a batch of prompts of
// different lengths gives what each prompt gives alone.
func TestGenerateGreedyMatchesRecompute(t *testing.T) {
	m := tinyModel(t, false, true, 31)
	if err := m.Quantize(QuantizeOptions{}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(8, 8))
	prompts := [][]int{randomIDs(r, 5, 97), randomIDs(r, 1, 97), randomIDs(r, 12, 97)}
	o := GenerateOptions{MaxNewTokens: 9, Stop: []int{}}
	batch, err := m.Generate(prompts, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		alone, err := m.Generate([][]int{p}, o)
		if err != nil {
			t.Fatal(err)
		}
		seq := append([]int(nil), p...)
		for step := range 9 {
			lg, err := m.Logits(seq)
			if err != nil {
				t.Fatal(err)
			}
			want := argmax(lg[(len(seq)-1)*97:])
			if batch.Tokens[i][step] != want || alone.Tokens[0][step] != want {
				t.Fatalf("prompt %d step %d: batch %d, alone %d, recomputed %d", i, step, batch.Tokens[i][step], alone.Tokens[0][step], want)
			}
			seq = append(seq, want)
		}
		if batch.Reasons[i] != "length" {
			t.Errorf("prompt %d stopped for %q, want length", i, batch.Reasons[i])
		}
	}
	if batch.NewTokens != 27 || batch.PromptTokens != 18 {
		t.Errorf("counted %d new and %d prompt tokens, want 27 and 18", batch.NewTokens, batch.PromptTokens)
	}
}

func TestGenerateSampling(t *testing.T) {
	m := tinyModel(t, true, false, 3)
	p := [][]int{{1, 2, 3}}
	greedy, _ := m.Generate(p, GenerateOptions{MaxNewTokens: 12, Stop: []int{}})
	top1, _ := m.Generate(p, GenerateOptions{MaxNewTokens: 12, Temperature: 1.5, TopK: 1, Seed: 5, Stop: []int{}})
	tinyP, _ := m.Generate(p, GenerateOptions{MaxNewTokens: 12, Temperature: 0.7, TopP: 1e-6, Seed: 5, Stop: []int{}})
	a, _ := m.Generate(p, GenerateOptions{MaxNewTokens: 12, Temperature: 5, Seed: 42, Stop: []int{}})
	b, _ := m.Generate(p, GenerateOptions{MaxNewTokens: 12, Temperature: 5, Seed: 42, Stop: []int{}})
	c, _ := m.Generate(p, GenerateOptions{MaxNewTokens: 12, Temperature: 5, Seed: 43, Stop: []int{}})
	eq := slices.Equal[[]int]
	if !eq(greedy.Tokens[0], top1.Tokens[0]) || !eq(greedy.Tokens[0], tinyP.Tokens[0]) {
		t.Errorf("top-k 1 %v and top-p→0 %v differ from greedy %v", top1.Tokens[0], tinyP.Tokens[0], greedy.Tokens[0])
	}
	if !eq(a.Tokens[0], b.Tokens[0]) {
		t.Errorf("the same seed gave %v and %v", a.Tokens[0], b.Tokens[0])
	}
	if eq(a.Tokens[0], c.Tokens[0]) {
		t.Errorf("seeds 42 and 43 gave the same hot sample %v", a.Tokens[0])
	}
	// a stop token ends the sequence and is kept
	stop := greedy.Tokens[0][3]
	s, _ := m.Generate(p, GenerateOptions{MaxNewTokens: 12, Stop: []int{stop}})
	if s.Reasons[0] != "stop" || s.Tokens[0][len(s.Tokens[0])-1] != stop || len(s.Tokens[0]) > 4 {
		t.Errorf("stop at %d: got %v (%s)", stop, s.Tokens[0], s.Reasons[0])
	}
}

func TestGenerateBadInput(t *testing.T) {
	m := tinyModel(t, true, false, 3)
	long := make([]int, m.Config.MaxPositionEmbeddings)
	cases := []struct {
		prompts [][]int
		o       GenerateOptions
		want    string
	}{
		{[][]int{long}, GenerateOptions{}, "context holds 64"},
		{[][]int{{}}, GenerateOptions{}, "prompt 0 is empty"},
		{nil, GenerateOptions{}, "no prompts"},
		{[][]int{{1, 500}}, GenerateOptions{}, "outside the vocabulary"},
		{[][]int{{1}}, GenerateOptions{Temperature: -1}, "temperature"},
		{[][]int{{1}}, GenerateOptions{TopP: 2}, "TopP"},
	}
	for _, c := range cases {
		_, err := m.Generate(c.prompts, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Generate(%v, %+v): error %v, want one saying %q", c.prompts, c.o, err, c.want)
		}
	}
	// the context bounds what is generated
	g, err := m.Generate([][]int{long[:60]}, GenerateOptions{MaxNewTokens: 10, Stop: []int{}})
	if err != nil || len(g.Tokens[0]) != 4 || g.Reasons[0] != "context" {
		t.Errorf("60 of 64 positions used: %v tokens (%v), %v", g.Tokens, g.Reasons, err)
	}
	if _, err := m.Logits(long[:0]); err == nil {
		t.Error("Logits of no tokens: no error")
	}
	if _, err := m.Logits(append(long, 1)); err == nil {
		t.Error("Logits longer than the context: no error")
	}
}

// Padded batches (either side) give each sequence's own logits.
func TestPaddedLogits(t *testing.T) {
	m := tinyModel(t, false, false, 13)
	r := rand.New(rand.NewPCG(9, 9))
	a, b := randomIDs(r, 7, 97), randomIDs(r, 4, 97)
	ids := [][]int{a, {0, 0, 0, b[0], b[1], b[2], b[3]}, {b[0], b[1], b[2], b[3], 5, 5, 5}}
	mask := [][]int{{1, 1, 1, 1, 1, 1, 1}, {0, 0, 0, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}}
	got, err := m.PaddedLogits(ids, mask)
	if err != nil {
		t.Fatal(err)
	}
	wa, _ := m.Logits(a)
	wb, _ := m.Logits(b)
	if e := relErr(got[0], wa); e > 1e-6 {
		t.Errorf("unpadded row: %.3g", e)
	}
	if e := relErr(got[1][3*97:], wb); e > 1e-6 {
		t.Errorf("left-padded row: %.3g", e)
	}
	if e := relErr(got[2][:4*97], wb); e > 1e-6 {
		t.Errorf("right-padded row: %.3g", e)
	}
	if _, err := m.PaddedLogits(ids, mask[:2]); err == nil {
		t.Error("mask with fewer rows accepted")
	}
	if _, err := m.PaddedLogits([][]int{{1}}, [][]int{{2}}); err == nil {
		t.Error("mask value 2 accepted")
	}
}

// An embedding quantized too (NF4 or FP4, whatever the layout) is looked up
// as its dequantized table would be.
func TestQuantizedEmbedding(t *testing.T) {
	for _, q := range []nf4.QuantType{nf4.NF4, nf4.FP4} {
		m := tinyModel(t, true, false, 19)
		w, err := nf4.QuantizeFloat32s(m.Embed.floats(), m.Embed.Out, m.Embed.In, nf4.WithQuantType(q), nf4.WithDoubleQuant())
		if err != nil {
			t.Fatal(err)
		}
		table, err := w.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		m.Embed.NF4, m.Embed.Float = w, nil
		d := m.Config.HiddenSize
		row := make([]float32, d)
		for _, id := range []int{0, 5, 96} {
			m.Embed.embedRow(row, id)
			want := table.Data().([]float32)[id*d : (id+1)*d]
			if !slices.Equal(row, want) {
				t.Fatalf("%v: row %d differs from the dequantized table", q, id)
			}
		}
		if _, err := m.Logits([]int{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
}
