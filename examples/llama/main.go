// Command llama walks through QLoRA on a Llama model on the CPU, with
// nothing to download:
//
//  1. train a byte-level BPE tokenizer and pretrain a small Llama in
//     float32 on Go source code from the Go distribution;
//
//  2. save it as a Hugging Face folder (config.json, model.safetensors,
//     tokenizer.json) and quantize it to NF4 as `nf4 quantize` does;
//
//  3. fine-tune LoRA adapters over the frozen NF4 weights on a second
//     corpus, the Go specification, with AdamW, warm-up and cosine decay,
//     gradient accumulation and clipping;
//
//  4. show the loss curves and samples before and after, save the PEFT
//     adapter and merge it into the base as `nf4 merge` does.
//
//     go run ./examples/llama [-out DIR] [-pretrain 160] [-finetune 60] [-hidden 128] [-layers 4] ...
//     go run ./examples/llama -hf DIR    # fine-tune your own Hugging Face Llama folder instead
//
// Everything lands in -out (a temporary folder, removed at the end, when
// not given): base/ (float32), nf4/ (4-bit, loads in transformers with
// bitsandbytes), adapter/ (loads in PEFT), merged/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/checkpoint"
	"github.com/nf4go/nf4/internal/progress"
	"github.com/nf4go/nf4/models/llama"
	"github.com/nf4go/nf4/models/tokenizer"
)

type config struct {
	out, hf                        string
	pretrainCorpus, finetuneCorpus string
	vocab, hidden, layers, heads   int
	kvHeads, mlp, context          int
	seq, batch, accum              int
	pretrain, finetune, evalN      int
	lr, loraLR, wd, clip           float64
	warmup                         float64
	rank                           int
	alpha, dropout                 float64
	targets                        string
	blockSize                      int
	doubleQuant                    bool
	samples, genTokens             int
	temperature, topP              float64
	topK                           int
	seed                           uint64
}

func main() {
	var c config
	flag.StringVar(&c.out, "out", "", "folder for everything written (default: a temporary folder, removed at the end)")
	flag.StringVar(&c.hf, "hf", "", "fine-tune this Hugging Face Llama folder (config.json, safetensors, tokenizer.json) instead of pretraining one")
	flag.StringVar(&c.pretrainCorpus, "pretrain-corpus", "", "text file to pretrain on (default: Go standard library source)")
	flag.StringVar(&c.finetuneCorpus, "finetune-corpus", "", "text file to fine-tune on (default: the Go specification)")
	flag.IntVar(&c.vocab, "vocab", 512, "tokenizer vocabulary size")
	flag.IntVar(&c.hidden, "hidden", 128, "hidden size (a multiple of 64)")
	flag.IntVar(&c.layers, "layers", 4, "decoder layers")
	flag.IntVar(&c.heads, "heads", 4, "attention heads")
	flag.IntVar(&c.kvHeads, "kv-heads", 2, "key/value heads (grouped-query attention)")
	flag.IntVar(&c.mlp, "mlp", 384, "MLP size (a multiple of 64)")
	flag.IntVar(&c.context, "context", 256, "context length (max_position_embeddings)")
	flag.IntVar(&c.seq, "seq", 64, "training sequence length")
	flag.IntVar(&c.batch, "batch", 8, "sequences per batch")
	flag.IntVar(&c.accum, "accum", 1, "batches accumulated per optimizer step")
	flag.IntVar(&c.pretrain, "pretrain", 150, "float32 pretraining steps")
	flag.IntVar(&c.finetune, "finetune", 100, "LoRA fine-tuning steps")
	flag.IntVar(&c.evalN, "eval", 4, "held-out batches per evaluation")
	flag.Float64Var(&c.lr, "lr", 3e-3, "pretraining peak learning rate")
	flag.Float64Var(&c.loraLR, "lora-lr", 1e-2, "LoRA peak learning rate")
	flag.Float64Var(&c.wd, "weight-decay", 0.01, "AdamW weight decay")
	flag.Float64Var(&c.clip, "clip", 1, "gradient clipping norm (0: none)")
	flag.Float64Var(&c.warmup, "warmup", 0.1, "fraction of the steps spent warming up")
	flag.IntVar(&c.rank, "rank", 8, "LoRA rank")
	flag.Float64Var(&c.alpha, "alpha", 16, "LoRA alpha")
	flag.Float64Var(&c.dropout, "lora-dropout", 0.05, "LoRA dropout")
	flag.StringVar(&c.targets, "targets", strings.Join(llama.AllModules, ","), "LoRA target modules")
	flag.IntVar(&c.blockSize, "block-size", 64, "NF4 block size")
	flag.BoolVar(&c.doubleQuant, "double-quant", true, "double-quantize the NF4 scales")
	flag.IntVar(&c.samples, "samples", 3, "prompts to sample before and after fine-tuning")
	flag.IntVar(&c.genTokens, "gen", 40, "tokens per sample")
	flag.Float64Var(&c.temperature, "temperature", 0.8, "sampling temperature (0: greedy)")
	flag.Float64Var(&c.topP, "top-p", 0.9, "nucleus sampling mass")
	flag.IntVar(&c.topK, "top-k", 0, "sample among the k likeliest tokens (0: all)")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed")
	flag.Parse()
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "llama:", err)
		os.Exit(1)
	}
}

// run is the whole walk-through.
func run(c config, w io.Writer) error {
	if c.batch <= 0 || c.seq <= 1 || c.pretrain < 0 || c.finetune < 0 || c.accum <= 0 || c.evalN <= 0 {
		return errors.New("batch, seq (> 1), accum and eval must be positive, step counts not negative")
	}
	start := time.Now()
	r := rand.New(rand.NewPCG(c.seed, 0x4c4c414d41))
	out := c.out
	if out == "" {
		dir, err := os.MkdirTemp("", "nf4-llama-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		out = dir
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		// Before any work: a bad -out would otherwise fail after pretraining.
		return fmt.Errorf("-out: %w", err)
	}
	engine, err := nf4.NewEngine(engineOptions()...)
	if err != nil {
		return err
	}
	defer engine.Close()
	fmt.Fprintf(w, "nf4 Llama QLoRA walk-through, engine: %v, output in %s\n\n", engine, out)
	s := &session{c: c, w: w, r: r, engine: engine, out: out}
	if c.hf != "" {
		err = s.fromHF()
	} else {
		err = s.pretrainBase()
	}
	if err != nil {
		return err
	}
	if err := s.quantize(); err != nil {
		return err
	}
	if err := s.finetuneLoRA(); err != nil {
		return err
	}
	if err := s.saveAndMerge(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ndone in %v\n", time.Since(start).Round(time.Second))
	return nil
}

// session carries the walk-through's state from step to step.
type session struct {
	c      config
	w      io.Writer
	r      *rand.Rand
	engine *nf4.Engine
	out    string

	tok        *tokenizer.Tokenizer
	eos        int
	base       string // the float (or the user's) Hugging Face folder
	nf4Dir     string
	model      *llama.Model
	pre, fine  stream
	floatLossA float64
}

func (s *session) dir(name string) (string, error) {
	d := filepath.Join(s.out, name)
	return d, os.MkdirAll(d, 0o755)
}

// fromHF takes the user's folder as the base.
func (s *session) fromHF() error {
	cfg, err := llama.LoadConfig(s.c.hf)
	if err != nil {
		return err
	}
	if s.tok, err = tokenizer.Load(filepath.Join(s.c.hf, "tokenizer.json")); err != nil {
		return err
	}
	s.eos = -1
	if len(cfg.EOSTokenID) > 0 {
		s.eos = cfg.EOSTokenID[0]
	}
	fmt.Fprintf(s.w, "1. base model from %s\n   %v\n   %v\n", s.c.hf, cfg, s.tok)
	s.base = s.c.hf
	docs, err := s.finetuneDocs()
	if err != nil {
		return err
	}
	s.fine = tokenize(s.tok, docs, s.eos)
	return nil
}

func (s *session) finetuneDocs() ([]string, error) {
	if s.c.finetuneCorpus != "" {
		return fileCorpus(s.c.finetuneCorpus)
	}
	return specCorpus()
}

// pretrainBase trains the tokenizer and a float32 model, and saves them
// as a Hugging Face folder.
func (s *session) pretrainBase() error {
	c := s.c
	var docsA []string
	var err error
	if c.pretrainCorpus != "" {
		docsA, err = fileCorpus(c.pretrainCorpus)
	} else {
		docsA, err = sourceCorpus(1 << 20)
	}
	if err != nil {
		return err
	}
	docsB, err := s.finetuneDocs()
	if err != nil {
		return err
	}
	t0 := time.Now()
	specials := []string{"<|begin_of_text|>", "<|end_of_text|>"}
	if s.tok, err = tokenizer.Train(append(append([]string(nil), docsA...), docsB...), tokenizer.TrainOptions{VocabSize: c.vocab, Special: specials, BOS: specials[0]}); err != nil {
		return err
	}
	s.eos = 1
	s.pre = tokenize(s.tok, docsA, s.eos)
	s.fine = tokenize(s.tok, docsB, s.eos)
	fmt.Fprintf(s.w, "1. tokenizer: %v, trained in %v\n", s.tok, time.Since(t0).Round(time.Millisecond))
	fmt.Fprintf(s.w, "   pretraining corpus (Go source): %d tokens; fine-tuning corpus (Go spec): %d tokens\n", len(s.pre.train)+len(s.pre.held), len(s.fine.train)+len(s.fine.held))
	cfg := &llama.Config{ModelType: "llama", VocabSize: s.tok.VocabSize(), HiddenSize: c.hidden, IntermediateSize: c.mlp,
		NumHiddenLayers: c.layers, NumAttentionHeads: c.heads, NumKeyValueHeads: c.kvHeads, MaxPositionEmbeddings: c.context,
		RMSNormEps: 1e-5, RopeTheta: 10000, HiddenAct: "silu", BOSTokenID: llama.TokenIDs{0}, EOSTokenID: llama.TokenIDs{1}}
	m, err := llama.New(cfg, c.seed)
	if err != nil {
		return err
	}
	m.SetEngine(s.engine)
	fmt.Fprintf(s.w, "   model: %v\n", m.Config)
	g, err := m.Graph(llama.GraphOptions{Batch: c.batch, Seq: c.seq, Train: true, Full: true, Seed: c.seed})
	if err != nil {
		return err
	}
	curve, perStep, err := s.train(g, s.pre, c.pretrain, c.lr, "pretrain")
	if err != nil {
		return err
	}
	fmt.Fprintf(s.w, "   pretrained %d steps of %d×%d tokens, %.0f tokens/s (%.0f ms/step)\n", c.pretrain, c.batch*c.accum, c.seq,
		float64(c.batch*c.accum*c.seq)/max(perStep.Seconds(), 1e-9), float64(perStep.Microseconds())/1000)
	fmt.Fprintf(s.w, "   loss curve: %s\n", sparkline(curve, 40))
	if s.floatLossA, err = s.evaluate(m, s.pre); err != nil {
		return err
	}
	fmt.Fprintf(s.w, "   held-out Go source loss: %.4f\n\n", s.floatLossA)
	if s.base, err = s.dir("base"); err != nil {
		return err
	}
	if err := m.Save(s.base); err != nil {
		return err
	}
	if err := writeTokenizer(s.tok, s.base, c.context); err != nil {
		return err
	}
	fmt.Fprintf(s.w, "2. saved the float32 model as a Hugging Face folder: %s (config.json, %s, tokenizer.json)\n", s.base, llama.WeightsFile)
	return nil
}

// writeTokenizer saves tokenizer.json and the tokenizer_config.json that
// transformers' AutoTokenizer reads.
func writeTokenizer(tok *tokenizer.Tokenizer, dir string, context int) error {
	if err := tok.Save(filepath.Join(dir, "tokenizer.json")); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`{
  "tokenizer_class": "PreTrainedTokenizerFast",
  "bos_token": %q,
  "eos_token": %q,
  "model_max_length": %d,
  "clean_up_tokenization_spaces": false
}
`, tok.Token(0), tok.Token(1), context)
	return os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644)
}

// train runs steps optimizer steps on the graph's learnables, drawing a
// progress bar, and returns the loss of every step and the time per step.
func (s *session) train(g *llama.Graph, data stream, steps int, lr float64, label string) ([]float64, time.Duration, error) {
	if steps == 0 {
		return nil, 0, nil
	}
	c := s.c
	warm := int(c.warmup * float64(steps))
	tr, err := llama.NewTrainer(g, llama.TrainConfig{LR: lr, MinLR: lr / 10, WeightDecay: c.wd, Steps: steps, Warmup: warm,
		Accumulate: c.accum, ClipNorm: c.clip})
	if err != nil {
		return nil, 0, err
	}
	bar := progress.New(s.w, "   "+label, steps)
	var curve []float64
	t0 := time.Now()
	for step := range steps {
		bs := make([]llama.Batch, c.accum)
		for i := range bs {
			if bs[i], err = data.batch(s.r, c.batch, c.seq); err != nil {
				return nil, 0, err
			}
		}
		st, err := tr.Step(bs...)
		if err != nil {
			return nil, 0, err
		}
		curve = append(curve, st.Loss)
		bar.Update(step+1, fmt.Sprintf("loss %.3f lr %.2g", st.Loss, st.LR))
	}
	bar.Done()
	return curve, time.Since(t0) / time.Duration(steps), nil
}

// evaluate returns the model's mean loss on held-out batches.
func (s *session) evaluate(m *llama.Model, data stream) (float64, error) {
	bs := data.evalBatches(s.c.batch, s.c.seq, s.c.evalN)
	if len(bs) == 0 {
		return 0, fmt.Errorf("the held-out part of the corpus is shorter than one batch of %d×%d tokens", s.c.batch, s.c.seq+1)
	}
	g, err := m.Graph(llama.GraphOptions{Batch: s.c.batch, Seq: s.c.seq})
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, b := range bs {
		l, err := g.Run(b)
		if err != nil {
			return 0, err
		}
		sum += l
	}
	return sum / float64(len(bs)), nil
}

// quantize converts the base checkpoint to NF4, as `nf4 quantize` does,
// and loads it.
func (s *session) quantize() error {
	c := s.c
	var err error
	if s.nf4Dir, err = s.dir("nf4"); err != nil {
		return err
	}
	in, err := weightsFile(s.base)
	if err != nil {
		return err
	}
	outFile := filepath.Join(s.nf4Dir, llama.WeightsFile)
	t0 := time.Now()
	rep, err := checkpoint.QuantizeFile(context.Background(), in, outFile, checkpoint.QuantizeOptions{BlockSize: c.blockSize, Double: c.doubleQuant})
	if err != nil {
		return err
	}
	if err := checkpoint.WriteModelConfig(filepath.Join(s.base, "config.json"), filepath.Join(s.nf4Dir, "config.json"), checkpoint.QuantizationConfig(rep)); err != nil {
		return err
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		if b, err := os.ReadFile(filepath.Join(s.base, f)); err == nil {
			if err := os.WriteFile(filepath.Join(s.nf4Dir, f), b, 0o644); err != nil {
				return err
			}
		}
	}
	dq := ""
	if c.doubleQuant {
		dq = " --double-quant"
	}
	inB, outB := rep.Totals()
	fmt.Fprintf(s.w, "   quantized in %v, as `nf4 quantize --block-size %d%s %s %s` does: %s → %s\n", time.Since(t0).Round(time.Millisecond),
		c.blockSize, dq, in, outFile, nf4.HumanBytes(int(inB)), nf4.HumanBytes(int(outB)))
	if s.model, err = llama.Load(s.nf4Dir, llama.LoadOptions{Engine: s.engine}); err != nil {
		return err
	}
	stored, f32 := s.model.Memory()
	fmt.Fprintf(s.w, "   weights: float32 %s, NF4 %s (%.2f× smaller; embedding, norms and lm_head stay float)\n", nf4.HumanBytes(f32), nf4.HumanBytes(stored), float64(f32)/float64(stored))
	if s.pre.held != nil {
		l, err := s.evaluate(s.model, s.pre)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.w, "   held-out Go source loss: float32 %.4f, NF4 %.4f (%+.4f)\n", s.floatLossA, l, l-s.floatLossA)
	}
	fmt.Fprintln(s.w)
	return nil
}

func weightsFile(dir string) (string, error) {
	for _, f := range []string{llama.WeightsFile, llama.IndexFile} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: no %s or %s", dir, llama.WeightsFile, llama.IndexFile)
}

var prompts = []string{"The zero value of", "A constant declaration", "func (b *Buffer) Len() int {"}

// samples prints a few continuations and returns the generation stats.
func (s *session) samples(label string) error {
	if s.c.samples == 0 {
		return nil
	}
	var ps [][]int
	for i := range s.c.samples {
		ps = append(ps, s.tok.Encode(prompts[i%len(prompts)], true))
	}
	g, err := s.model.Generate(ps, llama.GenerateOptions{MaxNewTokens: s.c.genTokens, Temperature: s.c.temperature,
		TopP: s.c.topP, TopK: s.c.topK, Seed: s.c.seed})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.w, "   samples %s (%v):\n", label, g)
	for i, t := range g.Tokens {
		p, _ := s.tok.Decode(ps[i], true)
		text, _ := s.tok.Decode(t, true)
		fmt.Fprintf(s.w, "     %q → %q\n", p, text)
	}
	return nil
}

// finetuneLoRA trains adapters on the second corpus over the NF4 base.
func (s *session) finetuneLoRA() error {
	c := s.c
	before, err := s.evaluate(s.model, s.fine)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.w, "3. LoRA fine-tuning on the Go specification over the frozen NF4 weights\n   held-out spec loss before: %.4f\n", before)
	if err := s.samples("before"); err != nil {
		return err
	}
	adapted, err := s.model.AddLoRA(llama.LoRAConfig{Rank: c.rank, Alpha: c.alpha, Dropout: c.dropout, Targets: strings.Split(c.targets, ","), Seed: c.seed})
	if err != nil {
		return err
	}
	trainable := 0
	for _, l := range adapted {
		trainable += l.LoRA.A.Shape().TotalSize() + l.LoRA.B.Shape().TotalSize()
	}
	fmt.Fprintf(s.w, "   LoRA r=%d alpha=%g dropout %g on %d modules (%s): %d trainable parameters, %.2f%% of %d\n",
		c.rank, c.alpha, c.dropout, len(adapted), c.targets, trainable, 100*float64(trainable)/float64(s.model.Config.Params()), s.model.Config.Params())
	g, err := s.model.Graph(llama.GraphOptions{Batch: c.batch, Seq: min(c.seq, s.model.Config.MaxPositionEmbeddings), Train: true, Seed: c.seed})
	if err != nil {
		return err
	}
	curve, perStep, err := s.train(g, s.fine, c.finetune, c.loraLR, "finetune")
	if err != nil {
		return err
	}
	fmt.Fprintf(s.w, "   %d steps, %.0f tokens/s (%.0f ms/step)\n   loss curve: %s\n", c.finetune,
		float64(c.batch*c.accum*c.seq)/max(perStep.Seconds(), 1e-9), float64(perStep.Microseconds())/1000, sparkline(curve, 40))
	after, err := s.evaluate(s.model, s.fine)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.w, "   held-out spec loss after: %.4f (%.1f%% lower)\n", after, 100*(1-after/before))
	return s.samples("after")
}

// saveAndMerge writes the PEFT adapter and merges it into the NF4 base.
func (s *session) saveAndMerge() error {
	ad, err := s.dir("adapter")
	if err != nil {
		return err
	}
	if err := s.model.SaveAdapter(ad, s.nf4Dir); err != nil {
		return err
	}
	fmt.Fprintf(s.w, "\n4. saved the adapter in PEFT's format: %s (%s, %s)\n", ad, checkpoint.AdapterConfigFile, checkpoint.AdapterWeightsFile)
	tuned, err := s.evaluate(s.model, s.fine)
	if err != nil {
		return err
	}
	merged, err := s.dir("merged")
	if err != nil {
		return err
	}
	base := filepath.Join(s.nf4Dir, llama.WeightsFile)
	outFile := filepath.Join(merged, llama.WeightsFile)
	rep, err := checkpoint.MergeFile(context.Background(), base, ad, outFile, checkpoint.MergeOptions{})
	if err != nil {
		return err
	}
	if err := checkpoint.WriteModelConfig(filepath.Join(s.nf4Dir, "config.json"), filepath.Join(merged, "config.json"), checkpoint.QuantizationConfig(rep)); err != nil {
		return err
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		if b, err := os.ReadFile(filepath.Join(s.nf4Dir, f)); err == nil {
			os.WriteFile(filepath.Join(merged, f), b, 0o644)
		}
	}
	m, err := llama.Load(merged, llama.LoadOptions{Engine: s.engine})
	if err != nil {
		return err
	}
	l, err := s.evaluate(m, s.fine)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.w, "   merged into the NF4 base (as `nf4 merge %s %s %s` does), requantized: held-out spec loss %.4f (with the adapter unmerged: %.4f)\n",
		base, ad, outFile, l, tuned)
	return nil
}
