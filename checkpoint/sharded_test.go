package checkpoint

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func writeSharded(t *testing.T, dir string) string {
	writeEntries(t, dir, "model-00001-of-00002.safetensors", map[string]string{"format": "pt"},
		floatEntry("l0.weight", BF16, []int{8, 64}, normals(1, 512)), floatEntry("l0.bias", BF16, []int{8}, normals(2, 8)))
	writeEntries(t, dir, "model-00002-of-00002.safetensors", map[string]string{"format": "pt"},
		floatEntry("l1.weight", BF16, []int{4, 128}, normals(3, 512)))
	index := filepath.Join(dir, "model.safetensors.index.json")
	js := `{"metadata": {"total_size": 3088}, "weight_map": {"l0.weight": "model-00001-of-00002.safetensors",
		"l0.bias": "model-00001-of-00002.safetensors", "l1.weight": "model-00002-of-00002.safetensors"}}`
	if err := os.WriteFile(index, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return index
}

func TestShardedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	index := writeSharded(t, dir)
	c := mustOpen(t, index)
	var names []string
	for _, ti := range c.Tensors() {
		names = append(names, ti.Name)
	}
	if !slices.Equal(names, []string{"l0.weight", "l0.bias", "l1.weight"}) {
		t.Errorf("tensors %v", names)
	}
	out := filepath.Join(dir, "q.safetensors")
	if _, err := QuantizeFile(context.Background(), index, out, QuantizeOptions{Double: true}); err != nil {
		t.Fatal(err)
	}
	q := mustOpen(t, out)
	if got := q.NF4Weights(); !slices.Equal(got, []string{"l0.weight", "l1.weight"}) {
		t.Errorf("NF4 weights %v", got)
	}
	if q.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", q.Metadata)
	}
}

func TestShardedIndexErrors(t *testing.T) {
	dir := t.TempDir()
	writeSharded(t, dir)
	index := filepath.Join(dir, "bad.safetensors.index.json")
	for _, c := range []struct{ js, want string }{
		{`{"weight_map": {"l9.weight": "model-00001-of-00002.safetensors"}}`, `tensor "l9.weight": index places it in model-00001-of-00002.safetensors`},
		{`{"weight_map": {"l0.weight": "../model-00001-of-00002.safetensors"}}`, "not a plain file name"},
		{`{"weight_map": {"l0.weight": "missing.safetensors"}}`, "missing.safetensors"},
		{`{"weight_map": {}}`, "no weight_map"},
		{`{"weight_map": `, "malformed index JSON"},
	} {
		os.WriteFile(index, []byte(c.js), 0o644)
		_, err := Open(index)
		wantErr(t, err, c.want)
	}
}
