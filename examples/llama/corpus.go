package main

import (
	"fmt"
	"html"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/nf4go/nf4/models/llama"
	"github.com/nf4go/nf4/models/tokenizer"
)

// The corpora, both on every machine with Go: the pretraining corpus is
// Go source from the standard library, the fine-tuning corpus the Go
// language specification, as plain text.
var sourcePackages = []string{"strings", "bytes", "strconv", "sort", "fmt", "errors", "bufio", "io", "path", "unicode/utf8", "container/list", "text/tabwriter"}

// goroot is the Go distribution's root, as `go env GOROOT` says.
func goroot() string {
	if r := os.Getenv("GOROOT"); r != "" {
		return r
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// sourceCorpus returns the non-test Go files of a few standard packages.
func sourceCorpus(limit int) ([]string, error) {
	var docs []string
	size := 0
	for _, p := range sourcePackages {
		files, err := filepath.Glob(filepath.Join(goroot(), "src", p, "*.go"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			docs = append(docs, string(b))
			if size += len(b); size >= limit {
				return docs, nil
			}
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("no Go source under %s/src (set GOROOT, or give -pretrain-corpus)", goroot())
	}
	return docs, nil
}

var (
	tags   = regexp.MustCompile(`(?s)<[^>]*>`)
	blanks = regexp.MustCompile(`\n[ \t]*\n(\s*\n)+`)
)

// specCorpus returns the Go specification as plain text, in paragraphs.
func specCorpus() ([]string, error) {
	path := filepath.Join(goroot(), "doc", "go_spec.html")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the fine-tuning corpus: %w (set GOROOT, or give -finetune-corpus)", err)
	}
	text := html.UnescapeString(tags.ReplaceAllString(string(b), ""))
	text = blanks.ReplaceAllString(text, "\n\n")
	return []string{strings.TrimSpace(text)}, nil
}

// fileCorpus reads a text file given on the command line.
func fileCorpus(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []string{string(b)}, nil
}

// stream is a corpus as one token stream, split into a training part and
// a held-out part for evaluation.
type stream struct {
	train, held []int
}

// tokenize encodes each document (with the tokenizer's special tokens)
// followed by eos, when eos is an id.
func tokenize(tok *tokenizer.Tokenizer, docs []string, eos int) stream {
	var all []int
	for _, d := range docs {
		all = append(all, tok.Encode(d, true)...)
		if eos >= 0 {
			all = append(all, eos)
		}
	}
	cut := len(all) * 9 / 10
	return stream{train: all[:cut], held: all[cut:]}
}

// batch draws random windows of seq+1 tokens.
func (s stream) batch(r *rand.Rand, n, seq int) (llama.Batch, error) {
	if len(s.train) < seq+2 {
		return llama.Batch{}, fmt.Errorf("corpus of %d tokens is too short for sequences of %d", len(s.train), seq)
	}
	seqs := make([][]int, n)
	for i := range seqs {
		at := r.IntN(len(s.train) - seq - 1)
		seqs[i] = s.train[at : at+seq+1]
	}
	return llama.NextTokenBatch(seqs)
}

// evalBatches cuts the held-out tokens into consecutive batches.
func (s stream) evalBatches(n, seq, most int) []llama.Batch {
	var out []llama.Batch
	per := n * (seq + 1)
	for at := 0; at+per <= len(s.held) && len(out) < most; at += per {
		seqs := make([][]int, n)
		for i := range seqs {
			seqs[i] = s.held[at+i*(seq+1) : at+(i+1)*(seq+1)]
		}
		b, _ := llama.NextTokenBatch(seqs)
		out = append(out, b)
	}
	return out
}
