package checkpoint

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
)

// ConfigFile is the name of a Hugging Face model's configuration, kept
// beside its weights. transformers loads 4-bit weights only when this file
// carries a "quantization_config".
const ConfigFile = "config.json"

// QuantizationConfig returns the "quantization_config" that transformers
// (BitsAndBytesConfig) needs to load the 4-bit weights of rep as they are:
// bitsandbytes, 4-bit NF4 or FP4 (the table most weights use: the config
// holds one), double quantization as written, computing in the dtype most
// of the weights had. Every 2-D ".weight" left in float is
// listed in llm_int8_skip_modules, so transformers does not expect it in
// 4 bits, and so, in a decoder with a token embedding, is lm_head unless
// it was quantized (with tied embeddings there is no lm_head.weight). The block size is not
// part of it: each weight's quant state records its own. It returns nil when rep quantized nothing.
func QuantizationConfig(rep *Report) map[string]any {
	dtypes := map[string]int{}
	tables := map[string]int{}
	double := false
	quantized := map[string]bool{}
	var skip []string
	embedding := false // a decoder's token embedding: an lm_head goes with it
	if rep == nil {
		return nil
	}
	for _, s := range rep.Steps {
		if s == nil {
			continue
		}
		embedding = embedding || strings.HasSuffix(s.Name, "embed_tokens.weight")
		switch {
		case strings.HasPrefix(s.To, "NF4/") || strings.HasPrefix(s.To, "FP4/"):
			quantized[s.Name] = true
			dtypes[s.Orig.torchName()]++
			tables[strings.ToLower(s.To[:3])]++
			double = double || strings.HasSuffix(s.To, "+DQ")
		case len(s.Shape) == 2 && strings.HasSuffix(s.Name, ".weight"):
			skip = append(skip, strings.TrimSuffix(s.Name, ".weight"))
		}
	}
	if len(dtypes) == 0 {
		return nil
	}
	compute, most := "", 0
	for _, d := range []string{"bfloat16", "float16", "float32"} {
		if dtypes[d] > most {
			compute, most = d, dtypes[d]
		}
	}
	// A model with tied embeddings stores no lm_head.weight, yet
	// transformers builds an lm_head and, given a skip list, quantizes
	// every module it does not name: an lm_head not quantized is named.
	if embedding && !quantized["lm_head.weight"] && !slices.Contains(skip, "lm_head") {
		skip = append(skip, "lm_head")
	}
	quantType := "nf4"
	if tables["fp4"] > tables["nf4"] {
		quantType = "fp4"
	}
	var skipModules any // null unless something stays float
	if len(skip) > 0 {
		sort.Strings(skip)
		skipModules = skip
	}
	return map[string]any{
		"quant_method":                     "bitsandbytes",
		"load_in_4bit":                     true,
		"load_in_8bit":                     false,
		"_load_in_4bit":                    true,
		"_load_in_8bit":                    false,
		"bnb_4bit_quant_type":              quantType,
		"bnb_4bit_use_double_quant":        double,
		"bnb_4bit_compute_dtype":           compute,
		"bnb_4bit_quant_storage":           "uint8",
		"llm_int8_threshold":               json.Number("6.0"),
		"llm_int8_skip_modules":            skipModules,
		"llm_int8_enable_fp32_cpu_offload": false,
		"llm_int8_has_fp16_weight":         false,
	}
}

// WriteModelConfig reads the Hugging Face config.json at in and writes it
// to out with "quantization_config" set to qc, or removed when qc is nil.
// Every other key is kept as it was; the file is written as transformers
// writes it (keys sorted, two-space indent) and atomically.
func WriteModelConfig(in, out string, qc map[string]any) error {
	cfg, _, err := readModelConfig(in)
	if err != nil {
		return err
	}
	data, err := encodeModelConfig(in, cfg, qc)
	if err != nil {
		return err
	}
	return WriteFileAtomic(out, data)
}

// readModelConfig reads a config.json, which must be one JSON object.
func readModelConfig(path string) (map[string]json.RawMessage, os.FileInfo, error) {
	data, st, err := readInput(path, maxSideFile)
	if err != nil {
		return nil, nil, err
	}
	var cfg map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&cfg); err != nil {
		return nil, nil, fileErr(path, "not a JSON object: %v", err)
	}
	if cfg == nil {
		return nil, nil, fileErr(path, "not a JSON object")
	}
	if dec.More() {
		return nil, nil, fileErr(path, "data after the JSON object")
	}
	return cfg, st, nil
}

// encodeModelConfig returns the config cfg (read from path) with its
// quantization_config set to qc, or removed when qc is nil.
func encodeModelConfig(path string, cfg map[string]json.RawMessage, qc map[string]any) ([]byte, error) {
	out := make(map[string]json.RawMessage, len(cfg)+1)
	for k, v := range cfg {
		out[k] = v
	}
	delete(out, "quantization_config")
	if qc != nil {
		raw, err := json.Marshal(qc)
		if err != nil {
			return nil, fileErr(path, "%v", err)
		}
		out["quantization_config"] = raw
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fileErr(path, "%v", err)
	}
	return append(b, '\n'), nil
}
