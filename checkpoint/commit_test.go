package checkpoint

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nf4go/nf4"
)

// Item: a sharded write that fails, at any point before every file is
// complete, leaves the files of an earlier output with the same names
// exactly as they were, and removes only its own temporaries.
func TestFailedShardedWriteKeepsThePreviousOutput(t *testing.T) {
	dir := t.TempDir()
	var es []Entry
	for i, name := range []string{"a.weight", "b.weight", "c.weight"} {
		es = append(es, floatEntry(name, BF16, []int{16, 128}, normals(uint64(i+1), 16*128)))
	}
	in := writeEntries(t, dir, "in.safetensors", nil, es...)
	bad := normals(4, 16*128)
	bad[16*128-1] = float32(math.NaN()) // in the last weight
	es[2] = floatEntry("c.weight", BF16, []int{16, 128}, bad)
	badIn := writeEntries(t, dir, "bad.safetensors", nil, es...)
	out := filepath.Join(dir, "out", "model.safetensors")
	os.Mkdir(filepath.Dir(out), 0o755)
	o := QuantizeOptions{ShardSize: 1300}
	rep, err := QuantizeFile(context.Background(), in, out, o)
	if err != nil || len(rep.Files) != 4 {
		t.Fatalf("first run: %v %v", rep, err)
	}
	before := treeSnapshot(t, dir)

	// The last weight fails to quantize after two shards are complete.
	_, err = QuantizeFile(context.Background(), badIn, out, o)
	wantErr(t, err, badIn, `"c.weight"`, "non-finite")
	sameTree(t, before, treeSnapshot(t, dir))

	// Interrupted when every byte is written, just before the renames.
	ctx, cancel := context.WithCancel(context.Background())
	o.Progress = func(done, total int64) {
		if done == total {
			cancel()
		}
	}
	_, err = QuantizeFile(ctx, in, out, o)
	if err != context.Canceled {
		t.Errorf("interrupted run: %v, want context.Canceled", err)
	}
	sameTree(t, before, treeSnapshot(t, dir))

	// An index that cannot be written is known before any work.
	index := out + IndexSuffix
	os.Rename(index, index+".moved")
	os.Mkdir(index, 0o755)
	before = treeSnapshot(t, dir)
	_, err = QuantizeFile(context.Background(), in, out, QuantizeOptions{ShardSize: 1300})
	wantErr(t, err, index, "is a directory")
	sameTree(t, before, treeSnapshot(t, dir))
}

// An interrupted conversion stops before it reads the next weight, in the
// double-quantization planning too (which reads every weight before the
// first byte is written): a weight that would fail is never reached.
func TestCancelledConversionStopsAtOnce(t *testing.T) {
	dir := t.TempDir()
	bad := normals(1, 4*64)
	bad[3] = float32(math.NaN())
	in := writeEntries(t, dir, "in.safetensors", nil, floatEntry("a.weight", F32, []int{4, 64}, bad))
	w, _ := nf4.QuantizeFloat32s(normals(2, 4*64), 4, 64, nf4.WithDoubleQuant())
	base := writeEntries(t, dir, "base.safetensors", nil, nf4Entries(t, "m.weight", w, F32)...)
	ad := filepath.Join(dir, "adapter")
	l := loraLayer("m", 1, 2, 4, 64)
	l.B.Data().([]float32)[0] = 3e38 // the merge overflows float32, if it is ever computed
	l.B.Data().([]float32)[1] = 3e38
	if err := SaveAdapter(ad, &Adapter{Rank: 2, Alpha: 400, Layers: []LoRALayer{l}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := treeSnapshot(t, dir)
	out := filepath.Join(dir, "out.safetensors")
	if _, err := QuantizeFile(ctx, in, out, QuantizeOptions{Double: true}); err != context.Canceled {
		t.Errorf("quantize: %v, want context.Canceled", err)
	}
	if _, err := MergeFile(ctx, base, ad, out, MergeOptions{}); err != context.Canceled {
		t.Errorf("merge: %v, want context.Canceled", err)
	}
	sameTree(t, before, treeSnapshot(t, dir))
}

// Errors name the file the user asked for, never a temporary: here the
// target turns into a directory while the run writes.
func TestErrorsNameTheTargetNotTheTemporary(t *testing.T) {
	dir := t.TempDir()
	in := writeEntries(t, dir, "in.safetensors", nil, floatEntry("a.weight", F32, []int{4, 64}, normals(1, 256)))
	out := filepath.Join(dir, "out.safetensors")
	_, err := QuantizeFile(context.Background(), in, out, QuantizeOptions{Progress: func(done, total int64) {
		if done == total {
			os.Mkdir(out, 0o755)
		}
	}})
	wantErr(t, err, out, "became a directory")
	if strings.Contains(err.Error(), tempSuffix) {
		t.Errorf("the error names a temporary: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("%d entries in the folder, want the input and the directory", len(ents))
	}
}

// Item: a rename that fails halfway through the commit (EBUSY on a mount
// point, EPERM on an immutable file, EIO) puts back what the earlier
// renames of the run replaced, and removes the files new to it: the
// previous output stays exactly as it was, whichever rename fails.
func TestFailedRenameKeepsThePreviousOutput(t *testing.T) {
	dir := t.TempDir()
	var es []Entry
	for i, name := range []string{"a.weight", "b.weight", "c.weight"} {
		es = append(es, floatEntry(name, BF16, []int{16, 128}, normals(uint64(i+1), 16*128)))
	}
	in := writeEntries(t, dir, "in.safetensors", nil, es...)
	out := filepath.Join(dir, "out", "model.safetensors")
	os.Mkdir(filepath.Dir(out), 0o755)
	if rep, err := QuantizeFile(context.Background(), in, out, QuantizeOptions{ShardSize: 1300}); err != nil || len(rep.Files) != 4 {
		t.Fatalf("first run: %v %v", rep, err)
	}
	defer func() { renameFile = os.Rename }()
	failAt := func(k int) {
		n := 0
		renameFile = func(from, to string) error {
			if n++; n-1 == k {
				return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EBUSY}
			}
			return os.Rename(from, to)
		}
	}
	// The same four names with other bytes (block size 128): the first
	// shard's rename fails, the third's, the index's.
	for _, k := range []int{0, 2, 3} {
		before := treeSnapshot(t, dir)
		failAt(k)
		_, err := QuantizeFile(context.Background(), in, out, QuantizeOptions{ShardSize: 1300, BlockSize: 128})
		wantErr(t, err, "rename into place", "device or resource busy")
		sameTree(t, before, treeSnapshot(t, dir))
	}
	// Into a new folder: the files renamed before the failure are removed.
	fresh := filepath.Join(dir, "fresh", "model.safetensors")
	os.Mkdir(filepath.Dir(fresh), 0o755)
	before := treeSnapshot(t, dir)
	failAt(3)
	_, err := QuantizeFile(context.Background(), in, fresh, QuantizeOptions{ShardSize: 1300})
	wantErr(t, err, fresh+IndexSuffix, "rename into place")
	sameTree(t, before, treeSnapshot(t, dir))
}
