package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// ChatFormat is one of the plain chat templates this package renders as
// transformers' apply_chat_template renders the Jinja template it stands
// for. Templates with other logic are not interpreted.
type ChatFormat string

// The chat formats: Llama 3's header tokens, Llama 2's [INST] blocks,
// Zephyr's (TinyLlama-Chat's) <|user|> tags and ChatML's <|im_start|>.
const (
	ChatLlama3 ChatFormat = "llama3"
	ChatLlama2 ChatFormat = "llama2"
	ChatZephyr ChatFormat = "zephyr"
	ChatML     ChatFormat = "chatml"
)

// DetectChatFormat names the format of a Jinja chat template from the
// tokens it writes, or returns an error for a template it does not know.
func DetectChatFormat(template string) (ChatFormat, error) {
	switch {
	case strings.Contains(template, "<|start_header_id|>") && strings.Contains(template, "<|eot_id|>"):
		return ChatLlama3, nil
	case strings.Contains(template, "[INST]") && strings.Contains(template, "<<SYS>>"):
		return ChatLlama2, nil
	case strings.Contains(template, "<|user|>") && strings.Contains(template, "<|assistant|>"):
		return ChatZephyr, nil
	case strings.Contains(template, "<|im_start|>") && strings.Contains(template, "<|im_end|>"):
		return ChatML, nil
	}
	return "", fmt.Errorf("tokenizer: chat template not recognised (want Llama 3, Llama 2, Zephyr or ChatML): %.80q", template)
}

// Chat is a chat format with the tokens its template refers to.
type Chat struct {
	Format   ChatFormat
	BOS, EOS string
}

// LoadChat reads the chat template and the BOS and EOS tokens of a
// tokenizer_config.json (or the one in a directory).
func LoadChat(path string) (*Chat, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = path + string(os.PathSeparator) + "tokenizer_config.json"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
		BOS          json.RawMessage `json:"bos_token"`
		EOS          json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, &Error{File: path, Err: fmt.Errorf("not a tokenizer_config.json: %v", err)}
	}
	var tmpl string
	if err := json.Unmarshal(cfg.ChatTemplate, &tmpl); err != nil {
		return nil, &Error{File: path, Err: fmt.Errorf("chat_template: want one template string (named templates are not supported)")}
	}
	f, err := DetectChatFormat(tmpl)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	return &Chat{Format: f, BOS: tokenString(cfg.BOS), EOS: tokenString(cfg.EOS)}, nil
}

// tokenString reads a special token given as a string or as an
// AddedToken object {"content": …}.
func tokenString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Content string `json:"content"`
	}
	json.Unmarshal(raw, &o)
	return o.Content
}

// Render writes the conversation as the format's template does; with
// generationPrompt it ends with the assistant's header, for the model to
// continue. Encode the result without adding special tokens: the template
// writes them.
func (c *Chat) Render(msgs []Message, generationPrompt bool) (string, error) {
	var b strings.Builder
	switch c.Format {
	case ChatLlama3:
		for i, m := range msgs {
			if i == 0 {
				b.WriteString(c.BOS)
			}
			fmt.Fprintf(&b, "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>", m.Role, strings.TrimSpace(m.Content))
		}
		if generationPrompt {
			b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
		}
	case ChatZephyr:
		for i, m := range msgs {
			switch m.Role {
			case "user", "system", "assistant":
				fmt.Fprintf(&b, "<|%s|>\n%s%s\n", m.Role, m.Content, c.EOS)
			default:
				return "", fmt.Errorf("tokenizer: chat message %d: role %q (want system, user or assistant)", i, m.Role)
			}
		}
		if generationPrompt && len(msgs) > 0 {
			b.WriteString("<|assistant|>\n")
		}
	case ChatML:
		for _, m := range msgs {
			fmt.Fprintf(&b, "<|im_start|>%s\n%s<|im_end|>\n", m.Role, m.Content)
		}
		if generationPrompt {
			b.WriteString("<|im_start|>assistant\n")
		}
	case ChatLlama2:
		system, hasSystem := "", false
		if len(msgs) > 0 && msgs[0].Role == "system" {
			system, hasSystem, msgs = msgs[0].Content, true, msgs[1:]
		}
		for i, m := range msgs {
			if (m.Role == "user") != (i%2 == 0) {
				return "", fmt.Errorf("tokenizer: chat message %d: roles must alternate user/assistant/user/…", i)
			}
			content := m.Content
			if i == 0 && hasSystem {
				content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content
			}
			switch m.Role {
			case "user":
				fmt.Fprintf(&b, "%s[INST] %s [/INST]", c.BOS, strings.TrimSpace(content))
			case "assistant":
				fmt.Fprintf(&b, " %s %s", strings.TrimSpace(content), c.EOS)
			}
		}
	default:
		return "", fmt.Errorf("tokenizer: chat format %q is not known", c.Format)
	}
	return b.String(), nil
}
