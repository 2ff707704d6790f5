package checkpoint

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nf4go/nf4"
	"gorgonia.org/tensor"
)

func TestDenseKeepsFloat64AndShapes(t *testing.T) {
	v := []float32{1.5, -2, 0.25, 3}
	path := writeEntries(t, t.TempDir(), "f.safetensors", nil,
		floatEntry("d", F64, []int{2, 2}, v), floatEntry("h", F16, []int{4}, v), floatEntry("s", F32, nil, v[:1]))
	c := mustOpen(t, path)
	d, err := c.Dense("d")
	if err != nil || d.Dtype() != tensor.Float64 || !slices.Equal(d.Shape(), tensor.Shape{2, 2}) || d.Data().([]float64)[1] != -2 {
		t.Errorf("F64: %v %v", d, err)
	}
	h, err := c.Dense("h")
	if err != nil || h.Dtype() != tensor.Float32 || !slices.Equal(h.Data().([]float32), v) {
		t.Errorf("F16: %v %v", h, err)
	}
	s, err := c.Dense("s")
	if err != nil || !slices.Equal(s.Shape(), tensor.Shape{1}) {
		t.Errorf("scalar: %v %v", s, err)
	}
	c.Close()
	if _, _, err := c.Raw("d"); err == nil {
		t.Error("Raw after Close succeeded")
	}
}

// TestLazyEntriesCheckThePlan: a weight that quantizes differently from
// what the header promised is an error, not a corrupt file.
func TestLazyEntriesCheckThePlan(t *testing.T) {
	w, _ := nf4.QuantizeFloat32s(normals(1, 4*64), 4, 64, nf4.WithDoubleQuant())
	es := LazyNF4Entries("w", 4, 64, 64, true, w.Weights().Scales.Offset+1, F32, func() (*nf4.Tensor, error) { return w, nil })
	path := filepath.Join(t.TempDir(), "w.safetensors")
	err := WriteFile(context.Background(), path, nil, es, nil)
	wantErr(t, err, path, `tensor "w"`, "differs from its plan")

	es = LazyNF4Entries("w", 4, 64, 64, true, w.Weights().Scales.Offset, F32, func() (*nf4.Tensor, error) { return w, nil })
	if err := WriteFile(context.Background(), path, nil, es, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := mustOpen(t, path).NF4("w")
	if err != nil || !slices.Equal(got.Absmax(), w.Absmax()) {
		t.Errorf("lazy entries read back as %v, %v", got, err)
	}
}
