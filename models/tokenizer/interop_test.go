//go:build interop

package tokenizer

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// randomText mixes the characters tokenizers treat differently: letters
// of several scripts, digits, punctuation, every kind of space, newlines,
// apostrophes, emoji and the special tokens.
func randomText(r *rand.Rand) string {
	parts := []string{"a", "Z", "é", "ß", "中", "ж", "1", "23", "٣", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000",
		"'", "'s", "'LL", ".", "!?", "(", "_", "🙂", "👍🏽", "<s>", "</s>", "<|eot_id|>", "<|endoftext|>", "<0x41>", "the", " the", "func", "\x7f"}
	var b strings.Builder
	for range 1 + r.IntN(30) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

// Random texts encode and decode as Hugging Face's tokenizers library
// encodes and decodes them, for every tokenizer in testdata.
func TestInteropRandomTexts(t *testing.T) {
	py := os.Getenv("NF4_PYTHON")
	if py == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("NF4_PYTHON is not set: .ci/check-python.sh installs the Python stack and sets it")
		}
		t.Skip("NF4_PYTHON is not set (a Python with the tokenizers library)")
	}
	r := rand.New(rand.NewPCG(uint64(len(kinds)), 7))
	texts := make([]string, 400)
	for i := range texts {
		texts[i] = randomText(r)
	}
	js, _ := json.Marshal(texts)
	in := filepath.Join(t.TempDir(), "texts.json")
	if err := os.WriteFile(in, js, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		t.Run(k, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.json")
			cmd := exec.Command(py, "testdata/hf.py", "encode", "testdata/"+k+".json", in, out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("hf.py: %v\n%s", err, b)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var cases []golden
			if err := json.Unmarshal(data, &cases); err != nil {
				t.Fatal(err)
			}
			tok, err := Load("testdata/" + k + ".json")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				checkCase(t, tok, c)
			}
		})
	}
}
