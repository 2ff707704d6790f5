package checkpoint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nf4go/nf4/checkpoint"
)

func TestQuantizationConfigNeedsNF4(t *testing.T) {
	rep := &checkpoint.Report{Steps: []*checkpoint.Step{
		{Name: "a.weight", Action: "float", From: "NF4/64", To: "BF16", Shape: []int{4, 64}},
	}}
	if qc := checkpoint.QuantizationConfig(rep); qc != nil {
		t.Errorf("no NF4 weight left, got %v", qc)
	}
}

func TestWriteModelConfigKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "config.json")
	// Numbers must come back exactly as written, whatever their form.
	src := `{"vocab_size": 32000, "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "quantization_config": {"quant_method": "gptq"}, "tie": false}`
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.json")
	if err := checkpoint.WriteModelConfig(in, out, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	want := "{\n  \"rms_norm_eps\": 1e-05,\n  \"rope_theta\": 500000.0,\n  \"tie\": false,\n  \"vocab_size\": 32000\n}\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	for name, text := range map[string]string{"list.json": `[1, 2]`, "two.json": `{} {}`, "null.json": `null`, "cut.json": `{"a": `} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		err := checkpoint.WriteModelConfig(p, filepath.Join(dir, "x.json"), nil)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
	if err := checkpoint.WriteModelConfig(filepath.Join(dir, "missing.json"), out, nil); err == nil {
		t.Error("a missing config.json gave no error")
	}
}

func ExampleQuantizationConfig() {
	rep := &checkpoint.Report{Steps: []*checkpoint.Step{
		{Name: "model.layers.0.mlp.up_proj.weight", Action: "nf4", From: "BF16", To: "NF4/64+DQ", Shape: []int{128, 64}, Orig: checkpoint.BF16},
		{Name: "lm_head.weight", Action: "copy", From: "BF16", To: "BF16", Shape: []int{32, 64}},
	}}
	qc := checkpoint.QuantizationConfig(rep)
	for _, k := range []string{"quant_method", "bnb_4bit_quant_type", "bnb_4bit_use_double_quant", "bnb_4bit_compute_dtype", "llm_int8_skip_modules"} {
		fmt.Printf("%s: %v\n", k, qc[k])
	}
	// Output:
	// quant_method: bitsandbytes
	// bnb_4bit_quant_type: nf4
	// bnb_4bit_use_double_quant: true
	// bnb_4bit_compute_dtype: bfloat16
	// llm_int8_skip_modules: [lm_head]
}

// A tied model stores no lm_head.weight; transformers still builds one, so
// it is listed to stay float. A quantized lm_head is not.
func TestQuantizationConfigLMHead(t *testing.T) {
	tied := &checkpoint.Report{Steps: []*checkpoint.Step{
		{Name: "model.layers.0.mlp.up_proj.weight", Action: "nf4", To: "NF4/64", Shape: []int{128, 64}, Orig: checkpoint.F32},
		{Name: "model.embed_tokens.weight", Action: "copy", To: "F32", Shape: []int{32, 64}},
	}}
	if got := checkpoint.QuantizationConfig(tied)["llm_int8_skip_modules"]; !reflect.DeepEqual(got, []string{"lm_head", "model.embed_tokens"}) {
		t.Errorf("tied model: llm_int8_skip_modules %v", got)
	}
	q := &checkpoint.Report{Steps: []*checkpoint.Step{
		{Name: "model.layers.0.mlp.up_proj.weight", Action: "nf4", To: "NF4/64", Shape: []int{128, 64}, Orig: checkpoint.F32},
		{Name: "lm_head.weight", Action: "nf4", To: "NF4/64", Shape: []int{32, 64}, Orig: checkpoint.F32},
	}}
	if got := checkpoint.QuantizationConfig(q)["llm_int8_skip_modules"]; got != nil {
		t.Errorf("quantized lm_head: llm_int8_skip_modules %v, want null", got)
	}
}

// TestQuantizationConfigFP4: FP4 weights give bnb_4bit_quant_type fp4 and
// are not listed as modules left in float.
func TestQuantizationConfigFP4(t *testing.T) {
	rep := &checkpoint.Report{Steps: []*checkpoint.Step{
		{Name: "a.weight", Action: "nf4", From: "BF16", To: "FP4/64", Shape: []int{4, 64}, Orig: checkpoint.BF16},
		{Name: "b.weight", Action: "nf4", From: "BF16", To: "FP4/64+DQ", Shape: []int{4, 64}, Orig: checkpoint.BF16},
	}}
	qc := checkpoint.QuantizationConfig(rep)
	if qc["bnb_4bit_quant_type"] != "fp4" || qc["bnb_4bit_use_double_quant"] != true || qc["llm_int8_skip_modules"] != nil {
		t.Errorf("config %v", qc)
	}
}
