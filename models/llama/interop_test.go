//go:build interop

// Interoperability with transformers, PEFT and bitsandbytes, run by
// .ci/check-python.sh with NF4_PYTHON set to a Python that has them:
//
//	NF4_PYTHON=~/.cache/nf4/python/venv-…/bin/python go test -tags interop ./models/...
package llama

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/checkpoint"
	"github.com/nf4go/nf4/models/tokenizer"
)

func cb(k int) float32 { return nf4.Codebook[k] }

// python runs testdata/interop.py with args, failing the test on an error.
func python(t *testing.T, args ...string) string {
	t.Helper()
	py := os.Getenv("NF4_PYTHON")
	if py == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("NF4_PYTHON is not set: .ci/check-python.sh installs the Python stack and sets it")
		}
		t.Skip("NF4_PYTHON is not set (a Python with torch, transformers, peft and bitsandbytes)")
	}
	script, _ := filepath.Abs("testdata/interop.py")
	cmd := exec.Command(py, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "TRANSFORMERS_VERBOSITY=error", "TOKENIZERS_PARALLELISM=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("interop.py %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// pyModel makes a random LlamaForCausalLM with transformers and saves it.
func pyModel(t *testing.T, cfg map[string]any, seed int) string {
	dir := filepath.Join(t.TempDir(), "model")
	python(t, "model", dir, jsonOf(cfg), fmt.Sprint(seed))
	return dir
}

// pyLogits returns transformers' logits [B][T·V] of ids in the model folder.
func pyLogits(t *testing.T, dir string, ids [][]int, extra ...string) [][]float32 {
	t.Helper()
	out := filepath.Join(t.TempDir(), "logits.safetensors")
	python(t, append([]string{"logits", dir, jsonOf(ids), out}, extra...)...)
	c, err := checkpoint.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, info, err := c.Float32s("logits")
	if err != nil {
		t.Fatal(err)
	}
	per := info.Elements() / info.Shape[0]
	var rows [][]float32
	for b := range info.Shape[0] {
		rows = append(rows, v[b*per:(b+1)*per])
	}
	return rows
}

func goLogits(t *testing.T, m *Model, ids [][]int) [][]float32 {
	t.Helper()
	ls, err := m.BatchLogits(ids)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func compare(t *testing.T, what string, got, want [][]float32, tol float64) {
	t.Helper()
	for b := range want {
		e := relErr(got[b], want[b])
		if !(e <= tol) {
			t.Errorf("%s, sequence %d: relative error %.3g > %.0e", what, b, e, tol)
		} else {
			t.Logf("%s, sequence %d: relative error %.2g", what, b, e)
		}
	}
}

// bnbTolerance bounds the relative difference to bitsandbytes' own 4-bit
// CPU forward pass, which rounds through a 16-bit type (about 5e-3 with
// bitsandbytes 0.50): its precision, not ours. The same weights in float32
// arithmetic must agree to 1e-4.
const bnbTolerance = 2e-2

// compare4bit checks nf4's logits of a 4-bit model against transformers'
// twice: with the weights bitsandbytes dequantizes in float32 products
// (1e-4), and through bitsandbytes' own Linear4bit forward (bnbTolerance).
func compare4bit(t *testing.T, what string, got [][]float32, dir string, ids [][]int, extra ...string) {
	t.Helper()
	compare(t, what+" (bitsandbytes' weights, float32 products)", got, pyLogits(t, dir, ids, append(extra, "--dequantize", "1")...), 1e-4)
	compare(t, what+" (bitsandbytes' Linear4bit)", got, pyLogits(t, dir, ids, extra...), bnbTolerance)
}

var interopConfigs = []struct {
	name string
	cfg  map[string]any
}{
	{"llama3-rope-gqa", map[string]any{"vocab_size": 300, "hidden_size": 128, "intermediate_size": 192, "num_hidden_layers": 2,
		"num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128, "rope_theta": 500000.0,
		"rope_scaling": map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16}}},
	// bitsandbytes' CPU Linear4bit forward asserts that every layer's
	// out-features divide by its tile (64 here)
	{"tied-bias-linear-rope", map[string]any{"vocab_size": 257, "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 3,
		"num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64, "tie_word_embeddings": true,
		"attention_bias": true, "mlp_bias": true, "rms_norm_eps": 1e-5, "rope_scaling": map[string]any{"rope_type": "linear", "factor": 2.0}}},
	{"mha-head-dim", map[string]any{"vocab_size": 200, "hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2,
		"num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 64, "max_position_embeddings": 64}},
}

func interopIDs(vocab int) [][]int {
	r := rand.New(rand.NewPCG(1, 2))
	return [][]int{randomIDs(r, 37, vocab), randomIDs(r, 37, vocab)}
}

// float checkpoint: nf4's logits equal transformers' in float32.
func TestInteropFloatLogits(t *testing.T) {
	for _, c := range interopConfigs {
		t.Run(c.name, func(t *testing.T) {
			dir := pyModel(t, c.cfg, 3)
			m, err := Load(dir, LoadOptions{Float: true})
			if err != nil {
				t.Fatal(err)
			}
			ids := interopIDs(m.Config.VocabSize)
			compare(t, "float logits", goLogits(t, m, ids), pyLogits(t, dir, ids), 1e-4)
			// a left-padded batch, positions counted over the tokens
			pad := [][]int{ids[0][:20], append(make([]int, 17), ids[1][:20]...)}
			mask := [][]int{onesInt(20), append(make([]int, 17), onesInt(20)...)}
			pad[0] = append(pad[0], make([]int, 17)...)
			mask[0] = append(mask[0], make([]int, 17)...)
			got, err := m.PaddedLogits(pad, mask)
			if err != nil {
				t.Fatal(err)
			}
			want := pyLogits(t, dir, pad, "--mask", jsonOf(mask))
			V := m.Config.VocabSize
			compare(t, "padded logits", [][]float32{got[0][:20*V], got[1][17*V:]}, [][]float32{want[0][:20*V], want[1][17*V:]}, 1e-4)
		})
	}
}

func onesInt(n int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// nf4Quantize runs what `nf4 quantize` runs: the checkpoint and its config.json.
func nf4Quantize(t *testing.T, dir string, double bool) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "nf4")
	os.MkdirAll(out, 0o755)
	rep, err := checkpoint.QuantizeFile(context.Background(), filepath.Join(dir, WeightsFile), filepath.Join(out, WeightsFile), checkpoint.QuantizeOptions{Double: double})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.WriteModelConfig(filepath.Join(dir, "config.json"), filepath.Join(out, "config.json"), checkpoint.QuantizationConfig(rep)); err != nil {
		t.Fatal(err)
	}
	return out
}

// 4-bit both ways: a model nf4 quantized loads in transformers (bitsandbytes
// on the CPU) with the same logits, and one transformers quantized loads
// in nf4 with the same logits.
func TestInteropNF4Logits(t *testing.T) {
	for _, c := range interopConfigs[:2] {
		for _, double := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/double=%v", c.name, double), func(t *testing.T) {
				dir := pyModel(t, c.cfg, 5)
				ids := interopIDs(c.cfg["vocab_size"].(int))
				ours := nf4Quantize(t, dir, double)
				m, err := Load(ours, LoadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(m.Linears()) == 0 || !m.Layers[0].Q.IsNF4() {
					t.Fatal("the quantized model has no NF4 layers")
				}
				compare4bit(t, "nf4 quantize → transformers", goLogits(t, m, ids), ours, ids)
				theirs := filepath.Join(t.TempDir(), "hf4")
				args := []string{"quantize", dir, theirs}
				if double {
					args = append(args, "--double-quant")
				}
				python(t, args...)
				m2, err := Load(theirs, LoadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				compare4bit(t, "transformers quantize → nf4", goLogits(t, m2, ids), theirs, ids)
			})
		}
	}
}

// Adapters both ways, on a float and on an NF4 base.
func TestInteropAdapters(t *testing.T) {
	c := interopConfigs[0]
	dir := pyModel(t, c.cfg, 7)
	for _, base := range []string{"float", "nf4"} {
		t.Run(base, func(t *testing.T) {
			bdir := dir
			if base == "nf4" {
				bdir = nf4Quantize(t, dir, true)
			}
			ids := interopIDs(300)
			// nf4 → PEFT
			m, err := Load(bdir, LoadOptions{Float: base == "float"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.AddLoRA(LoRAConfig{Rank: 4, Alpha: 12, Targets: AllModules, Seed: 4}); err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(5, 5))
			for _, l := range m.Adapted() {
				d := l.LoRA.B.Data().([]float32)
				for i := range d {
					d[i] = float32(0.05 * r.NormFloat64())
				}
			}
			ad := filepath.Join(t.TempDir(), "adapter")
			if err := m.SaveAdapter(ad, bdir); err != nil {
				t.Fatal(err)
			}
			deq := []string{"--dequantize", "1"}
			withPEFT := pyLogits(t, bdir, ids, append(deq, "--adapter", ad)...)
			plain := pyLogits(t, bdir, ids, deq...)
			if relErr(withPEFT[0], plain[0]) < 1e-2 {
				t.Fatal("the adapter changes next to nothing in PEFT: the test is void")
			}
			compare(t, "nf4 adapter in PEFT", goLogits(t, m, ids), withPEFT, 1e-4)
			if base == "nf4" {
				compare(t, "nf4 adapter in PEFT (bitsandbytes' Linear4bit)", goLogits(t, m, ids), pyLogits(t, bdir, ids, "--adapter", ad), bnbTolerance)
			}
			// PEFT → nf4
			pad := filepath.Join(t.TempDir(), "peft")
			python(t, "peft", bdir, pad, "q_proj,v_proj,o_proj,down_proj", "11")
			m2, err := Load(bdir, LoadOptions{Float: base == "float"})
			if err != nil {
				t.Fatal(err)
			}
			if err := m2.LoadAdapter(pad); err != nil {
				t.Fatal(err)
			}
			if n := len(m2.Adapted()); n != 4*2 {
				t.Fatalf("%d modules adapted, want 8", n)
			}
			compare(t, "PEFT adapter in nf4", goLogits(t, m2, ids), pyLogits(t, bdir, ids, append(deq, "--adapter", pad)...), 1e-4)
		})
	}
}

// `nf4 quantize` writes exactly what bitsandbytes' quantize_4bit writes
// for the same weights, plain and double-quantized, on random weights and
// on the corner cases, live against the installed bitsandbytes.
func TestInteropQuantizeBytes(t *testing.T) {
	dir := pyModel(t, interopConfigs[0].cfg, 9)
	for _, in := range []string{filepath.Join(dir, WeightsFile), cornerCheckpoint(t)} {
		for _, double := range []bool{false, true} {
			out := filepath.Join(t.TempDir(), "q.safetensors")
			if _, err := checkpoint.QuantizeFile(context.Background(), in, out, checkpoint.QuantizeOptions{Double: double}); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s, double quantization %v: %s", filepath.Base(in), double,
				python(t, "bnb-bytes", in, out, "64", map[bool]string{false: "0", true: "1"}[double]))
		}
	}
}

// cornerCheckpoint writes weights with the blocks quantizers get wrong:
// all zero, one value, midpoints between codes, tiny and huge magnitudes.
func cornerCheckpoint(t *testing.T) string {
	rows, cols := 8, 256
	w := make([]float32, rows*cols)
	r := rand.New(rand.NewPCG(3, 3))
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	clear(w[0:64]) // an all-zero block
	w[64] = 1      // one value, the rest zero
	clear(w[65:128])
	for i := 128; i < 192; i++ { // midpoints, scaled by the block's absmax 1
		k := i % 15
		w[i] = (cb(k) + cb(k+1)) / 2
	}
	w[191] = 1
	for i := 256; i < 320; i++ {
		w[i] = float32(r.NormFloat64() * 1e-30)
	}
	for i := 320; i < 384; i++ {
		w[i] = float32(r.NormFloat64() * 1e30)
	}
	w[400] = float32(math.Copysign(0, -1))
	path := filepath.Join(t.TempDir(), "corner.safetensors")
	es := []checkpoint.Entry{{Name: "corner.weight", DType: checkpoint.F32, Shape: []int{rows, cols}, Data: checkpoint.EncodeFloats(nil, w, checkpoint.F32)}}
	if err := checkpoint.WriteFile(context.Background(), path, map[string]string{"format": "pt"}, es, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// The model, adapter and tokenizer examples/llama wrote (NF4_LLAMA_EXAMPLE
// names its -out folder) load in transformers, PEFT and tokenizers with
// the same logits and ids.
func TestInteropExample(t *testing.T) {
	dir := os.Getenv("NF4_LLAMA_EXAMPLE")
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("NF4_LLAMA_EXAMPLE is not set: .ci/check-python.sh runs examples/llama -out DIR and sets it")
		}
		t.Skip("NF4_LLAMA_EXAMPLE is not set (the -out folder of examples/llama)")
	}
	base, err := Load(filepath.Join(dir, "base"), LoadOptions{Float: true})
	if err != nil {
		t.Fatal(err)
	}
	ids := interopIDs(base.Config.VocabSize)
	compare(t, "example float model", goLogits(t, base, ids), pyLogits(t, filepath.Join(dir, "base"), ids), 1e-4)
	q, err := Load(filepath.Join(dir, "nf4"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	compare4bit(t, "example NF4 model", goLogits(t, q, ids), filepath.Join(dir, "nf4"), ids)
	if err := q.LoadAdapter(filepath.Join(dir, "adapter")); err != nil {
		t.Fatal(err)
	}
	compare4bit(t, "example adapter", goLogits(t, q, ids), filepath.Join(dir, "nf4"), ids, "--adapter", filepath.Join(dir, "adapter"))
	mg, err := Load(filepath.Join(dir, "merged"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	compare4bit(t, "example merged model", goLogits(t, mg, ids), filepath.Join(dir, "merged"), ids)
	tok, err := tokenizer.Load(filepath.Join(dir, "base", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"func (b *Buffer) Len() int { return len(b.buf) - b.off }", "The zero value of a slice is nil.\n\n\tx  :=  1e9 // naïve 🙂", ""}
	out := filepath.Join(t.TempDir(), "tok.json")
	python(t, "tokenize", filepath.Join(dir, "base", "tokenizer.json"), jsonOf(texts), out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var want []struct {
		IDs     []int  `json:"ids"`
		Special []int  `json:"special"`
		Decoded string `json:"decoded"`
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		if got := tok.Encode(text, false); fmt.Sprint(got) != fmt.Sprint(want[i].IDs) && len(want[i].IDs) > 0 {
			t.Errorf("example tokenizer: Encode(%q) = %v, tokenizers %v", text, got, want[i].IDs)
		}
		if got := tok.Encode(text, true); fmt.Sprint(got) != fmt.Sprint(want[i].Special) {
			t.Errorf("example tokenizer: Encode(%q, special) = %v, tokenizers %v", text, got, want[i].Special)
		}
	}
}
