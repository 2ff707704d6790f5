package checkpoint

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestFailedWriteLeavesNothing: an error in the middle of writing leaves
// no file under the target name, no temporary file, and an existing
// target untouched.
func TestFailedWriteLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("disk on fire")
	es := []Entry{
		{Name: "a", DType: U8, Shape: []int{1 << 20}, Data: make([]byte, 1<<20)},
		{Name: "b", DType: U8, Shape: []int{16}, Size: 16, Fill: func(w io.Writer) error {
			w.Write(make([]byte, 8))
			return boom
		}},
	}
	target := filepath.Join(dir, "out.safetensors")
	err := WriteFile(context.Background(), target, nil, es, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	wantErr(t, err, target, `tensor "b"`)
	sameSnapshot(t, map[string][]byte{}, snapshot(t, dir))

	// An existing file under the target name survives a failed write.
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	if err := WriteFile(context.Background(), target, nil, es, nil); err == nil {
		t.Fatal("no error")
	}
	sameSnapshot(t, before, snapshot(t, dir))
}

func TestCancelledWriteLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	es := []Entry{
		{Name: "a", DType: U8, Shape: []int{4}, Size: 4, Fill: func(w io.Writer) error {
			cancel() // interrupted while the first tensor is written
			_, err := w.Write(make([]byte, 4))
			return err
		}},
		{Name: "b", DType: U8, Shape: []int{4}, Data: make([]byte, 4)},
	}
	err := WriteFile(ctx, filepath.Join(dir, "out.safetensors"), nil, es, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	sameSnapshot(t, map[string][]byte{}, snapshot(t, dir))
}

// TestQuantizeFailureKeepsInput: a NaN in the second weight fails the run
// after the first weight is written; the input is untouched and no
// output, partial or temporary, is left.
func TestQuantizeFailureKeepsInput(t *testing.T) {
	dir := t.TempDir()
	bad := normals(1, 4*64)
	bad[70] = float32(math.NaN())
	in := writeEntries(t, dir, "in.safetensors", nil,
		floatEntry("a.weight", F32, []int{64, 64}, normals(2, 64*64)),
		floatEntry("b.weight", F32, []int{4, 64}, bad))
	before := snapshot(t, dir)
	out := filepath.Join(dir, "out.safetensors")
	_, err := QuantizeFile(context.Background(), in, out, QuantizeOptions{})
	wantErr(t, err, in, `tensor "b.weight"`, "row 1", "block 0")
	sameSnapshot(t, before, snapshot(t, dir))

	// Writing over the input itself is refused.
	good := writeEntries(t, dir, "good.safetensors", nil, floatEntry("a.weight", F32, []int{4, 64}, normals(3, 256)))
	before = snapshot(t, dir)
	_, err = QuantizeFile(context.Background(), good, good, QuantizeOptions{})
	wantErr(t, err, good, "is an input file")
	sameSnapshot(t, before, snapshot(t, dir))
}
