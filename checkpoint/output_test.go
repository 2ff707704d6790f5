//go:build unix

package checkpoint

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteFileRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.Symlink("nothing", filepath.Join(dir, "dangling"))
	os.Symlink("fifo", filepath.Join(dir, "to-fifo"))
	es := []Entry{{Name: "a", DType: U8, Shape: []int{4}, Data: []byte{1, 2, 3, 4}}}
	before := treeSnapshot(t, dir)
	for _, c := range []struct{ path, want string }{
		{fifo, "named pipe"},
		{filepath.Join(dir, "sub"), "is a directory"},
		{filepath.Join(dir, "dangling"), "leads to no file"},
		{filepath.Join(dir, "to-fifo"), "symbolic link to"},
		{filepath.Join(dir, "none", "x"), "cannot write into"},
	} {
		wantErr(t, WriteFile(context.Background(), c.path, nil, es, nil), c.path, c.want)
		wantErr(t, WriteFileAtomic(c.path, []byte("x")), c.path, c.want)
		sameTree(t, before, treeSnapshot(t, dir))
	}
	wantErr(t, CheckOutput(""), "empty")
}

// A temporary left by a run that died (unlocked) is removed by the next
// run writing the same name; one that a live writer holds, and every
// other file, stays.
func TestStaleTemporariesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "model.safetensors")
	var live outputSet
	held, err := live.create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer live.abort()
	if !isTempName(filepath.Base(held.tmp.Name()), ".model.safetensors.") {
		t.Fatalf("temporary %s does not follow the naming rule", held.tmp.Name())
	}
	stale := filepath.Join(dir, ".model.safetensors.0123456789ab"+tempSuffix)
	keep := []string{
		filepath.Join(dir, ".model.safetensors.0123456789a"+tempSuffix),  // not 12 hex digits
		filepath.Join(dir, ".other.safetensors.0123456789ab"+tempSuffix), // another target
		filepath.Join(dir, ".model.safetensors.0123456789ab.tmp"),        // not ours
		filepath.Join(dir, "model.safetensors.0123456789ab"+tempSuffix),  // not hidden
	}
	for _, p := range append(keep, stale) {
		os.WriteFile(p, []byte("x"), 0o644)
	}
	if err := WriteFile(context.Background(), out, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary %s not removed", stale)
	}
	if _, err := os.Stat(held.tmp.Name()); err != nil {
		t.Errorf("a live writer's temporary was removed: %v", err)
	}
	for _, p := range keep {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}
