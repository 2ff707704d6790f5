package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each plain chat format renders conversations exactly as transformers'
// apply_chat_template rendered the real template (testdata/chat.cases.json,
// written by testdata/chat.py).
func TestChatMatchesTransformers(t *testing.T) {
	data, err := os.ReadFile("testdata/chat.cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Format, Template, BOS, EOS, Text string
		Messages                         []Message
		GenerationPrompt                 bool `json:"generation_prompt"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 24 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, c := range cases {
		f, err := DetectChatFormat(c.Template)
		if err != nil || string(f) != c.Format {
			t.Fatalf("template of %s detected as %q (%v)", c.Format, f, err)
		}
		got, err := (&Chat{Format: f, BOS: c.BOS, EOS: c.EOS}).Render(c.Messages, c.GenerationPrompt)
		if err != nil || got != c.Text {
			t.Errorf("%s %v (generation prompt %v):\n got %q (%v)\nwant %q", c.Format, c.Messages, c.GenerationPrompt, got, err, c.Text)
		}
	}
}

func TestChatErrors(t *testing.T) {
	if _, err := DetectChatFormat("{{ messages | tojson }}"); err == nil {
		t.Error("an unknown template was recognised")
	}
	l2 := &Chat{Format: ChatLlama2, BOS: "<s>", EOS: "</s>"}
	if _, err := l2.Render([]Message{{"user", "a"}, {"user", "b"}}, false); err == nil {
		t.Error("Llama 2: two user turns in a row accepted")
	}
	z := &Chat{Format: ChatZephyr, EOS: "</s>"}
	if _, err := z.Render([]Message{{"tool", "a"}}, false); err == nil {
		t.Error("Zephyr: role tool accepted")
	}
	dir := t.TempDir()
	cfg := `{"bos_token": {"content": "<s>"}, "eos_token": "</s>", "chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '<|im_end|>'}}{% endfor %}"}`
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644)
	c, err := LoadChat(dir)
	if err != nil || c.Format != ChatML || c.BOS != "<s>" || c.EOS != "</s>" {
		t.Errorf("LoadChat: %+v, %v", c, err)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"chat_template": [{"name": "default", "template": "x"}]}`), 0o644)
	if _, err := LoadChat(dir); err == nil || !strings.Contains(err.Error(), "tokenizer_config.json") {
		t.Errorf("named templates: %v", err)
	}
}
