package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4/checkpoint"
	"gorgonia.org/tensor"
)

// readmeCommands returns the nf4 command lines of the README's shell
// blocks, comments cut.
func readmeCommands(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds [][]string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "```"):
			in = !in && l == "```sh"
		case in && strings.HasPrefix(l, "nf4 "):
			l, _, _ = strings.Cut(l, "#")
			cmds = append(cmds, strings.Fields(l)[1:])
		}
	}
	return cmds
}

// Every nf4 command the README shows runs as shown, in a folder holding
// the files it names, and does what the names promise.
func TestREADMECommandsRun(t *testing.T) {
	cmds := readmeCommands(t)
	if len(cmds) < 5 {
		t.Fatalf("only %d nf4 commands found in README.md", len(cmds))
	}
	dir := t.TempDir()
	floatModel(t, dir)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(modelConfig), 0o644)
	// the same model, sharded, for the index
	es := []checkpoint.Entry{
		{Name: "model.layers.0.mlp.up_proj.weight", DType: checkpoint.BF16, Shape: []int{128, 64}, Data: checkpoint.EncodeFloats(nil, values(128*64, 0.1), checkpoint.BF16)},
		{Name: "model.norm.weight", DType: checkpoint.BF16, Shape: []int{64}, Data: checkpoint.EncodeFloats(nil, values(64, 1), checkpoint.BF16)},
	}
	for i, e := range es {
		shard := filepath.Join(dir, []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[i])
		if err := checkpoint.WriteFile(t.Context(), shard, nil, []checkpoint.Entry{e}, nil); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": {
		"model.layers.0.mlp.up_proj.weight": "model-00001-of-00002.safetensors",
		"model.norm.weight": "model-00002-of-00002.safetensors"}}`), 0o644)
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	a := &checkpoint.Adapter{Rank: 2, Alpha: 4, Layers: []checkpoint.LoRALayer{{
		Module: "model.layers.0.mlp.up_proj",
		A:      tensor.New(tensor.WithShape(2, 64), tensor.WithBacking(values(128, 0))),
		B:      tensor.New(tensor.WithShape(128, 2), tensor.WithBacking(values(256, 0.5))),
	}}}
	if err := checkpoint.SaveAdapter(filepath.Join(dir, "adapter"), a); err != nil {
		t.Fatal(err)
	}
	for _, args := range cmds {
		stdout, stderr, code := nf4at(t, dir, args...)
		if code != 0 {
			t.Errorf("README: nf4 %s: exit %d: %s", strings.Join(args, " "), code, stderr)
			continue
		}
		out := args[len(args)-1]
		switch {
		case args[0] == "inspect" && !strings.Contains(stdout, "NF4 b64+DQ"):
			t.Errorf("README: nf4 %s shows no NF4 weight:\n%s", strings.Join(args, " "), stdout)
		case strings.Contains(out, "f16"):
			c, err := checkpoint.Open(filepath.Join(dir, out))
			if err != nil {
				t.Fatal(err)
			}
			if ti, _ := c.Info("model.layers.0.mlp.up_proj.weight"); ti.DType != checkpoint.F16 {
				t.Errorf("README: nf4 %s writes %s weights into a file named f16", strings.Join(args, " "), ti.DType)
			}
			c.Close()
		case args[0] == "quantize" || args[0] == "merge":
			c, err := checkpoint.Open(filepath.Join(dir, out))
			if err != nil {
				t.Fatal(err)
			}
			if !c.IsNF4("model.layers.0.mlp.up_proj.weight") {
				t.Errorf("README: nf4 %s leaves the weight in float", strings.Join(args, " "))
			}
			c.Close()
		}
	}
}
