package checkpoint

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nf4go/nf4"
)

// Item: an input truncated while it is mapped is an error naming it, not
// a SIGBUS that kills the process; this runs the real fault on this
// kernel, in every way the package reads a mapping.
func TestTruncatedWhileMapped(t *testing.T) {
	dir := t.TempDir()
	big := make([]float32, 5<<18) // 5 MiB as F32: copied by write(2) straight from the mapping, and progress is told after it
	for i := range big {
		big[i] = float32(i%97) / 97
	}
	in := writeEntries(t, dir, "in.safetensors", nil,
		floatEntry("big.norm", F32, []int{len(big)}, big),
		floatEntry("small.norm", F32, []int{1024}, normals(1, 1024)),
		floatEntry("w.weight", F32, []int{8, 64}, normals(2, 512)))
	open := func() *Checkpoint {
		c, err := Open(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(in, 0); err != nil {
			t.Fatal(err)
		}
		return c
	}
	data, _ := os.ReadFile(in)
	restore := func() { os.WriteFile(in, data, 0o644) }

	c := open()
	_, _, err := c.Float32s("w.weight")
	wantErr(t, err, in, "shrank while it was being read")
	if !errors.Is(err, ErrFileChanged) {
		t.Errorf("%v is not ErrFileChanged", err)
	}
	_, err = c.Dense("small.norm")
	wantErr(t, err, in, "shrank")
	_, err = c.Items()
	if err != nil {
		t.Errorf("Items reads no mapped data for plain tensors: %v", err)
	}
	// Copying mapped bytes: through the buffer (a load faults) and
	// straight to write(2) (the kernel returns EFAULT).
	for _, name := range []string{"small.norm", "big.norm"} {
		b, ti, err := c.Raw(name)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "copy.safetensors")
		err = WriteFile(context.Background(), out, nil, []Entry{{Name: name, DType: ti.DType, Shape: ti.Shape, Data: b}}, nil)
		wantErr(t, err, in, "shrank")
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("copying %s: %d files left in the folder, want the input alone", name, len(ents))
		}
	}
	c.Close()
	restore()

	// An NF4 weight: its quant state and its parts.
	w, err := nf4QuantizeForTest(normals(3, 8*64), 8, 64)
	if err != nil {
		t.Fatal(err)
	}
	q := writeEntries(t, dir, "q-in.safetensors", nil, w...)
	cq, err := Open(q)
	if err != nil {
		t.Fatal(err)
	}
	os.Truncate(q, 0)
	_, _, err = cq.NF4("w")
	wantErr(t, err, q, "shrank")
	_, err = cq.Items()
	wantErr(t, err, q, "shrank")
	cq.Close()
	os.Remove(q)

	// A conversion whose input is cut short after its first tensor.
	for _, run := range []func(Progress) error{
		func(p Progress) error {
			_, err := QuantizeFile(context.Background(), in, filepath.Join(dir, "q.safetensors"), QuantizeOptions{Progress: p})
			return err
		},
		func(p Progress) error {
			_, err := DequantizeFile(context.Background(), in, filepath.Join(dir, "d.safetensors"), DequantizeOptions{Progress: p})
			return err
		},
	} {
		restore()
		err := run(func(done, total int64) { os.Truncate(in, 0) })
		wantErr(t, err, in, "shrank")
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("%d files left in the folder, want the input alone", len(ents))
		}
	}
}

func nf4QuantizeForTest(v []float32, rows, cols int) ([]Entry, error) {
	w, err := nf4.QuantizeFloat32s(v, rows, cols, nf4.WithDoubleQuant())
	if err != nil {
		return nil, err
	}
	return NF4Entries("w", w, F32)
}
