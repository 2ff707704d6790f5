package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

type golden struct {
	Text        string `json:"text"`
	IDs         []int  `json:"ids"`
	Special     []int  `json:"special"`
	Decoded     string `json:"decoded"`
	DecodedSkip string `json:"decoded_skip"`
}

var kinds = []string{"gpt2", "llama3", "llama2", "llama2-metaspace"}

// Every tokenizer in testdata encodes and decodes cases-texts.json exactly
// as Hugging Face's tokenizers library did (the .cases.json files).
func TestMatchesTokenizersLibrary(t *testing.T) {
	for _, k := range kinds {
		t.Run(k, func(t *testing.T) {
			tok, err := Load("testdata/" + k + ".json")
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile("testdata/" + k + ".cases.json")
			if err != nil {
				t.Fatal(err)
			}
			var cases []golden
			if err := json.Unmarshal(data, &cases); err != nil {
				t.Fatal(err)
			}
			if len(cases) < 30 {
				t.Fatalf("%d cases", len(cases))
			}
			for _, c := range cases {
				checkCase(t, tok, c)
			}
		})
	}
}

func checkCase(t *testing.T, tok *Tokenizer, c golden) {
	t.Helper()
	if got := tok.Encode(c.Text, false); !slices.Equal(got, c.IDs) && !(len(got) == 0 && len(c.IDs) == 0) {
		t.Errorf("Encode(%q) = %v, want %v", c.Text, got, c.IDs)
	}
	if got := tok.Encode(c.Text, true); !slices.Equal(got, c.Special) {
		t.Errorf("Encode(%q, special) = %v, want %v", c.Text, got, c.Special)
	}
	if got, err := tok.Decode(c.Special, false); err != nil || got != c.Decoded {
		t.Errorf("Decode(%v) = %q (%v), want %q", c.Special, got, err, c.Decoded)
	}
	if got, err := tok.Decode(c.Special, true); err != nil || got != c.DecodedSkip {
		t.Errorf("Decode(%v, skip special) = %q (%v), want %q", c.Special, got, err, c.DecodedSkip)
	}
}

func TestBadTokenizerFiles(t *testing.T) {
	good, err := os.ReadFile("testdata/llama3.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, data, want string }{
		{"not json", "{", "not a tokenizer.json"},
		{"no model", `{"added_tokens": []}`, "no \"model\""},
		{"unigram", `{"model": {"type": "Unigram", "vocab": []}}`, "Unigram"},
		{"bad merge", `{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}`, "not in the vocabulary"},
		{"bad merge form", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [3]}}`, "merges[0]"},
		{"unknown pre-tokenizer", strings.Replace(string(good), `"type": "Split"`, `"type": "Whitespace"`, 1), "Whitespace"},
		{"unknown decoder", strings.Replace(string(good), `"decoder": {"type": "ByteLevel"`, `"decoder": {"type": "WordPiece"`, 1), "WordPiece"},
		{"go cannot run the pattern", strings.Replace(string(good), `\\s+(?!\\S)|\\s+"}`, `\\s+(?!\\S)"}`, 1), "not supported by Go's regexp"},
		{"duplicate id", `{"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}}`, "id 0"},
		{"unk not in vocab", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}}`, "unk_token"},
	}
	for _, c := range cases {
		_, err := Parse("tok.json", []byte(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "tok.json") {
			t.Errorf("%s: error %v, want one naming the file and saying %q", c.name, err, c.want)
		}
	}
	tok, err := Parse("llama3", good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Decode([]int{1 << 20}, false); err == nil {
		t.Error("Decode of an unknown id: no error")
	}
}

func FuzzParse(f *testing.F) {
	for _, k := range kinds {
		data, err := os.ReadFile("testdata/" + k + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		ids := tok.Encode("Hello, wörld 123 <s>\n", true)
		if _, err := tok.Decode(ids, false); err != nil {
			t.Fatalf("decoding what it encoded: %v", err)
		}
	})
}

// Encoding any text and decoding it gives the text back for byte-level
// tokenizers (every byte has a token).
func FuzzByteLevelRoundTrip(f *testing.F) {
	tok, err := Load("testdata/gpt2.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "hello  world\n", "ÿ\x00\xff", "🙂 don't"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := tok.Decode(tok.Encode(s, false), false)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if got != want && strings.ToValidUTF8(got, "") != strings.ToValidUTF8(s, "") {
			t.Fatalf("round trip of %q gave %q", s, got)
		}
	})
}
