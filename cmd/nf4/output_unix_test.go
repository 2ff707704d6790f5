//go:build unix

package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nf4go/nf4/checkpoint"
	"golang.org/x/sys/unix"
)

// Item: an output that is anything but a new name, a regular file or a
// symbolic link to one is refused before any work: a device node (as
// root, renaming over /dev/null would destroy it), a FIFO, a socket, a
// directory, a link to nothing. The node is made in a temporary folder,
// never the system's /dev.
func TestOutputsReplaceOnlyRegularFiles(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	odd := filepath.Join(dir, "odd")
	os.Mkdir(odd, 0o755)
	fifo := filepath.Join(odd, "fifo.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(odd, "sock.safetensors")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	os.Mkdir(filepath.Join(odd, "folder.safetensors"), 0o755)
	os.Symlink("nowhere.safetensors", filepath.Join(odd, "dangling.safetensors"))
	os.Symlink("folder.safetensors", filepath.Join(odd, "to-folder.safetensors"))
	outs := []string{fifo, sock, filepath.Join(odd, "folder.safetensors"), filepath.Join(odd, "dangling.safetensors"),
		filepath.Join(odd, "to-folder.safetensors"), filepath.Join(odd, "missing", "x.safetensors"), ""}
	if os.Geteuid() == 0 {
		null := filepath.Join(odd, "null")
		if err := unix.Mknod(null, syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		os.Symlink("null", filepath.Join(odd, "to-null.safetensors"))
		outs = append(outs, null, filepath.Join(odd, "to-null.safetensors"))
	} else if os.Getenv("CI") != "" {
		t.Fatal("CI runs as root here: this test needs root to make a device node")
	} else {
		t.Log("not root: device nodes not tried")
	}
	before := tree(t, dir)
	for _, out := range outs {
		runs := [][]string{{"quantize", in, out}, {"dequantize", in, out}}
		if out != "" {
			runs = append(runs, []string{"quantize", "--config", out, in, filepath.Join(dir, "new.safetensors")})
		}
		for _, args := range runs {
			_, stderr, code := nf4cmd(t, args...)
			if code != 2 || !strings.Contains(stderr, out) || !strings.Contains(stderr, "Run \"nf4 "+args[0]+" --help\"") {
				t.Errorf("nf4 %q: exit %d, %q; want a usage error naming the output", args, code, stderr)
			}
		}
		unchanged(t, "output "+out, before, tree(t, dir))
	}
	if os.Geteuid() == 0 {
		st, err := os.Stat(filepath.Join(odd, "null"))
		if err != nil || st.Mode()&os.ModeCharDevice == 0 {
			t.Errorf("the device node is now %v (%v)", st.Mode(), err)
		}
	}
}

// A symbolic link to a regular file is written through: the file it
// points to is replaced and the link stays a link.
func TestOutputThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	store := filepath.Join(dir, "store")
	os.Mkdir(store, 0o755)
	target := filepath.Join(store, "blob")
	os.WriteFile(target, []byte("old"), 0o600)
	link := filepath.Join(dir, "model-nf4.safetensors")
	if err := os.Symlink("store/blob", link); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", in, link); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if l, err := os.Readlink(link); err != nil || l != "store/blob" {
		t.Errorf("the link is now %q (%v)", l, err)
	}
	c, err := checkpoint.Open(target)
	if err != nil {
		t.Fatalf("the link's target is not the new checkpoint: %v", err)
	}
	c.Close()
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o600 {
		t.Errorf("the replaced file has mode %v, want the old one's 0600", st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(store); len(ents) != 1 {
		t.Errorf("%d files in the link's folder, want 1", len(ents))
	}
}

// Item: a FIFO where a file is read (the input, a shard, an index, an
// adapter file, config.json) is refused at once, not waited on forever.
func TestFIFOInputsNeverHang(t *testing.T) {
	dir := t.TempDir()
	base, adapter := nf4Model(t, dir)
	fifo := func(p string) string {
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	in := fifo(filepath.Join(dir, "fifo.safetensors"))
	sh := filepath.Join(dir, "sharded")
	os.Mkdir(sh, 0o755)
	fifo(filepath.Join(sh, "model-00001-of-00001.safetensors"))
	index := filepath.Join(sh, "model.safetensors.index.json")
	os.WriteFile(index, []byte(`{"weight_map": {"w": "model-00001-of-00001.safetensors"}}`), 0o644)
	fifoIndex := fifo(filepath.Join(dir, "fifo.safetensors.index.json"))
	fifoAdapter := filepath.Join(dir, "fifo-adapter")
	os.Mkdir(fifoAdapter, 0o755)
	cfg, _ := os.ReadFile(filepath.Join(adapter, "adapter_config.json"))
	os.WriteFile(filepath.Join(fifoAdapter, "adapter_config.json"), cfg, 0o644)
	fifo(filepath.Join(fifoAdapter, "adapter_model.safetensors"))
	fifoConfigAdapter := filepath.Join(dir, "fifo-config-adapter")
	os.Mkdir(fifoConfigAdapter, 0o755)
	fifo(filepath.Join(fifoConfigAdapter, "adapter_config.json"))
	out := filepath.Join(dir, "out.safetensors")
	for _, c := range []struct {
		args []string
		fifo string
	}{
		{[]string{"inspect", in}, in},
		{[]string{"quantize", in, out}, in},
		{[]string{"dequantize", index, out}, filepath.Join(sh, "model-00001-of-00001.safetensors")},
		{[]string{"inspect", fifoIndex}, fifoIndex},
		{[]string{"merge", base, fifoAdapter, out}, filepath.Join(fifoAdapter, "adapter_model.safetensors")},
		{[]string{"merge", base, fifoConfigAdapter, out}, filepath.Join(fifoConfigAdapter, "adapter_config.json")},
	} {
		cmd, stderr := start(t, c.args...)
		if code := wait(t, cmd); code != 1 || !strings.Contains(stderr.String(), c.fifo) || !strings.Contains(stderr.String(), "named pipe") {
			t.Errorf("nf4 %q: exit %d, %q; want 1 and the FIFO named", c.args, code, stderr.String())
		}
	}
	// config.json beside the input as a FIFO: an error, not a hang, and
	// the FIFO stays.
	fifo(filepath.Join(dir, "config.json"))
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	cmd, stderr := start(t, "quantize", "--quiet", base, filepath.Join(other, "m.safetensors"))
	if code := wait(t, cmd); code != 1 || !strings.Contains(stderr.String(), "config.json: is a named pipe") {
		t.Errorf("a FIFO named config.json beside the input: exit %d, %s", code, stderr)
	}
	if st, err := os.Lstat(filepath.Join(dir, "config.json")); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("config.json FIFO is now %v (%v)", st.Mode(), err)
	}
	if ents, _ := os.ReadDir(other); len(ents) != 0 {
		t.Errorf("%d files written", len(ents))
	}
}

// Item: with --shard-size, the index and every file named like a shard of
// OUT are outputs too, checked as OUT is before any work: a FIFO where a
// shard would go, a directory where the index would go, and an OUT whose
// name cannot make shard names are usage errors.
func TestShardOutputsAreCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	in := floatModel(t, dir)
	out := filepath.Join(dir, "out", "model.safetensors")
	os.Mkdir(filepath.Dir(out), 0o755)
	fifo := filepath.Join(dir, "out", "model-00002-of-00003.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(dir, "out2", "model.safetensors"+checkpoint.IndexSuffix)
	os.MkdirAll(index, 0o755)
	before := tree(t, dir)
	for _, c := range []struct{ out, want string }{
		{out, fifo},
		{filepath.Join(dir, "out2", "model.safetensors"), index},
		{filepath.Join(dir, "model.bin"), "ending in .safetensors"},
	} {
		for _, cmd := range []string{"quantize", "dequantize"} {
			_, stderr, code := nf4cmd(t, cmd, "--shard-size", "1KB", in, c.out)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("nf4 %s --shard-size 1KB into %s: exit %d, %q; want a usage error naming %s", cmd, c.out, code, stderr, c.want)
			}
			unchanged(t, c.out, before, tree(t, dir))
		}
	}
}
