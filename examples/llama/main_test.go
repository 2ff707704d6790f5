package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4/checkpoint"
	"github.com/nf4go/nf4/models/llama"
)

// The walk-through runs end to end on small corpora and leaves a base, an
// NF4 model, a PEFT adapter and a merged model that all load.
func TestWalkThrough(t *testing.T) {
	dir := t.TempDir()
	src, err := sourceCorpus(40 << 10)
	if err != nil {
		skipOutsideCI(t, err) // no Go source on this machine
	}
	a := filepath.Join(dir, "a.txt")
	b := filepath.Join(dir, "b.txt")
	os.WriteFile(a, []byte(strings.Join(src, "\n")), 0o644)
	spec, err := specCorpus()
	if err != nil {
		skipOutsideCI(t, err)
	}
	os.WriteFile(b, []byte(spec[0][:60<<10]), 0o644)
	out := filepath.Join(dir, "out")
	c := config{out: out, pretrainCorpus: a, finetuneCorpus: b, vocab: 300, hidden: 64, layers: 1, heads: 2, kvHeads: 1,
		mlp: 128, context: 64, seq: 16, batch: 2, accum: 2, pretrain: 3, finetune: 3, evalN: 1, lr: 3e-3, loraLR: 1e-2,
		wd: 0.01, clip: 1, warmup: 0.3, rank: 2, alpha: 4, dropout: 0.1, targets: "q_proj,down_proj", blockSize: 64,
		doubleQuant: true, samples: 1, genTokens: 4, temperature: 0.8, topP: 0.9, seed: 1}
	var log bytes.Buffer
	if err := run(c, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	for _, want := range []string{"1. tokenizer", "2. saved the float32 model", "3. LoRA fine-tuning", "4. saved the adapter", "merged into the NF4 base", "loss curve"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, log.String())
		}
	}
	for _, sub := range []string{"base", "nf4", "merged"} {
		if _, err := llama.Load(filepath.Join(out, sub), llama.LoadOptions{}); err != nil {
			t.Errorf("%s: %v", sub, err)
		}
	}
	ad, err := checkpoint.LoadAdapter(filepath.Join(out, "adapter"))
	if err != nil || len(ad.Layers) != 2 || ad.Rank != 2 {
		t.Errorf("adapter: %v, %v", ad, err)
	}
	// the trained tokenizer went along, and -hf takes the folder back
	c.hf, c.out = filepath.Join(out, "base"), filepath.Join(dir, "again")
	log.Reset()
	if err := run(c, &log); err != nil {
		t.Fatalf("-hf: %v\n%s", err, log.String())
	}
}

func TestSparkline(t *testing.T) {
	s := sparkline([]float64{4, 3, 2, 1}, 40)
	if !strings.HasPrefix(s, "4.000 █") || !strings.HasSuffix(s, "▁ 1.000") {
		t.Errorf("sparkline %q", s)
	}
	if sparkline(nil, 10) != "(no steps)" {
		t.Error("empty sparkline")
	}
}

// A bad -out is refused before any training.
func TestBadOutRefusedFirst(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	c := config{out: file, batch: 1, seq: 2, evalN: 1, accum: 1, pretrain: 1}
	err := run(c, &log)
	if err == nil || !strings.Contains(err.Error(), "-out") {
		t.Fatalf("run with -out naming a file: %v, want an error about -out", err)
	}
	if log.Len() != 0 {
		t.Errorf("work started before -out was checked:\n%s", log.String())
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Errorf("the file -out named was changed: %q", b)
	}
}

func skipOutsideCI(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(err)
	}
	t.Skip(err)
}
