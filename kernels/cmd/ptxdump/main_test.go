package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/internal/ptxas"
)

func TestWritesEveryKernelAndTarget(t *testing.T) {
	t.Setenv("NF4_PTXAS", filepath.Join(t.TempDir(), "missing")) // table off: files only
	dir := t.TempDir()
	var out strings.Builder
	if err := run(&out, dir, "sm_80,sm_90", 4); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no table") {
		t.Errorf("output: %q", out.String())
	}
	for _, k := range kernels.All() {
		for _, tg := range []string{"sm_80", "sm_90"} {
			if k.MinSM() > 80 && tg == "sm_80" {
				continue
			}
			if _, ok := k.(kernels.TensorMapper); ok && tg == "sm_90" {
				tg = "sm_90a"
			}
			b, err := os.ReadFile(filepath.Join(dir, k.Name()+"."+tg+".ptx"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), ".target "+tg+"\n") {
				t.Errorf("%s.%s: wrong target", k.Name(), tg)
			}
		}
	}
	if err := run(&out, dir, "sm_75", 4); err == nil {
		t.Error("accepted sm_75")
	}
}

func TestPerfJSONAndTable(t *testing.T) {
	ptxas.RequireCUDA12(t)
	var out strings.Builder
	o := perfOptions{on: true, json: true, device: "h200", shapes: "4096x4096", ms: "1", run: "gemv_m1_b64|dequantize_f32"}
	if err := runPerf(&out, o); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d JSON lines:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"kernel", "target", "device", "m", "n", "k", "bound", "predicted_us", "limit", "fraction"} {
			if _, ok := rec[key]; !ok {
				t.Errorf("no %q in %s", key, l)
			}
		}
		if f := rec["fraction"].(float64); f <= 0 || f > 1 || rec["device"] != "h200" || rec["target"] != "sm_90" || rec["n"].(float64) != 4096 {
			t.Errorf("record %s", l)
		}
	}
	out.Reset()
	o.json, o.profile, o.lines = false, true, 2
	if err := runPerf(&out, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a prediction, not a measurement", "| nf4_gemv_m1_b64 | 1 | 4096×4096 |", "Model assumptions", "Device profile h200", "copy bandwidth", "Costliest memory instructions", "ld.global.nc.v4.f32"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPerfFlags(t *testing.T) {
	for _, o := range []perfOptions{
		{on: true, device: "a100"},
		{on: true, device: "h200", shapes: "4096"},
		{on: true, device: "h200", shapes: "0x64"},
		{on: true, device: "h200", ms: "1,x"},
		{on: true, device: "h200", run: "("},
		{on: true, device: "h200", run: "no-such-kernel"},
	} {
		if err := runPerf(io.Discard, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if s, err := parseShapes("11008x4096, 4096x11008"); err != nil || len(s) != 2 || s[0] != [2]int{11008, 4096} {
		t.Errorf("parseShapes: %v %v", s, err)
	}
}

func TestCalibrateCommand(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.jsonl")
	rec := `{"kernel":"nf4_gemm_f32_b64","device":"h200","m":512,"n":4096,"k":4096,"grid":[64,8,1],"predicted_us":663,"dram_bytes":2.6e7,"bound":"L1/shared data path","fraction":0.387,"limit":"FP32 peak"}`
	if err := os.WriteFile(model, []byte(rec+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err := runCalibrate(&out, "../../perf/testdata/ncu_raw.csv", model, "h200")
	// The fixture also holds a dequantize launch the model file lacks.
	if err == nil || !strings.Contains(err.Error(), "nf4_dequantize_f32_b64") {
		t.Errorf("stray launch not reported: %v", err)
	}
	if !strings.Contains(out.String(), "| nf4_gemm_f32_b64 | 512 | 4096×4096 | time (µs) | 710 | 663 | 0.934 |") {
		t.Errorf("output:\n%s", out.String())
	}
	if err := runCalibrate(io.Discard, "../../perf/testdata/ncu_raw.csv", "", "h200"); err == nil {
		t.Error("ran without -model")
	}
	if err := runCalibrate(io.Discard, filepath.Join(dir, "missing.csv"), model, "h200"); err == nil {
		t.Error("ran on a missing file")
	}
}
