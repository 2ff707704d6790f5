package checkpoint

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/nf4go/nf4"
)

// Nil arguments and receivers are errors (or empty results), never panics.
func TestNilsAreErrors(t *testing.T) {
	var c *Checkpoint
	if c.Tensors() != nil || c.Has("x") || c.IsNF4("x") || c.NF4Weights() != nil || c.Close() != nil {
		t.Error("a nil checkpoint does not read as empty")
	}
	if _, ok := c.Info("x"); ok {
		t.Error("Info on a nil checkpoint")
	}
	if _, _, err := c.Raw("x"); err == nil {
		t.Error("Raw on a nil checkpoint")
	}
	if _, _, err := c.Float32s("x"); err == nil {
		t.Error("Float32s on a nil checkpoint")
	}
	if _, err := c.Dense("x"); err == nil {
		t.Error("Dense on a nil checkpoint")
	}
	if _, _, err := c.NF4("x"); err == nil {
		t.Error("NF4 on a nil checkpoint")
	}
	if _, err := c.Items(); err == nil {
		t.Error("Items on a nil checkpoint")
	}
	if _, err := NF4Entries("w", nil, F32); !errors.Is(err, nf4.ErrNil) {
		t.Errorf("NF4Entries of nil: %v", err)
	}
	w, _ := nf4.QuantizeFloat32s(normals(1, 64), 1, 64)
	_, err := NF4Entries("w", w, I8)
	wantErr(t, err, `"w"`, `"I8"`)
	if _, _, err := Requantize(normals(1, 64), nil); !errors.Is(err, nf4.ErrNil) {
		t.Errorf("Requantize with a nil base: %v", err)
	}
	if _, err := MergeFloat(nil, nil, 1); !errors.Is(err, nf4.ErrNil) {
		t.Errorf("MergeFloat of nils: %v", err)
	}
	var rep *Report
	if in, out := rep.Totals(); in != 0 || out != 0 || QuantizationConfig(rep) != nil || QuantizationConfig(&Report{Steps: []*Step{nil}}) != nil {
		t.Error("a nil report does not read as empty")
	}
	es := LazyNF4Entries("w", 1, 64, 64, false, 0, F32, nil)
	err = WriteFile(t.Context(), filepath.Join(t.TempDir(), "w.safetensors"), nil, es, nil)
	wantErr(t, err, `"w"`, "no quantize function")
}
