package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTrain(t *testing.T) {
	text, err := os.ReadFile("testdata/cases-texts.json")
	if err != nil {
		t.Fatal(err)
	}
	corpus := []string{strings.Repeat(string(text), 3), "func main() { fmt.Println(\"hello, world\") }\n"}
	tok, err := Train(corpus, TrainOptions{VocabSize: 400, Special: []string{"<s>", "</s>"}, BOS: "<s>"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 400 {
		t.Errorf("vocabulary of %d, want 400", tok.VocabSize())
	}
	for _, s := range append(corpus, "unseen ÿ text 🙂", "") {
		ids := tok.Encode(s, false)
		back, err := tok.Decode(ids, false)
		if err != nil || back != s {
			t.Errorf("round trip of %.40q gave %.40q (%v)", s, back, err)
		}
		if len(s) > 100 && 10*len(ids) > 7*len(s) {
			t.Errorf("%d tokens for %d bytes: the merges do not compress", len(ids), len(s))
		}
	}
	if ids := tok.Encode("x", true); len(ids) < 2 || ids[0] != 0 {
		t.Errorf("Encode with special tokens: %v, want the BOS id 0 first", ids)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tok.Save(path); err != nil {
		t.Fatal(err)
	}
	re, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := tok.Encode(corpus[0], true), re.Encode(corpus[0], true); !slices.Equal(a, b) {
		t.Error("the saved tokenizer encodes differently")
	}
	if err := re.Save(path); err == nil {
		t.Error("saving a loaded tokenizer: no error")
	}
	if _, err := Train(corpus, TrainOptions{VocabSize: 100}); err == nil {
		t.Error("a vocabulary smaller than the byte alphabet: no error")
	}
}
