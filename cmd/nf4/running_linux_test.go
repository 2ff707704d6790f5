package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nf4go/nf4/checkpoint"
)

// mapped reports whether the running command has path mapped.
func mapped(cmd *exec.Cmd, path string) bool {
	m, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "maps"))
	return bytes.Contains(m, []byte(path))
}

// Item: an input truncated while the command has it mapped ends the run
// with exit 1 and an error naming the file, not a SIGBUS crash (exit 2,
// "fatal error: fault"), and leaves no output or temporary behind. The
// run is stopped as soon as /proc shows the mapping, the input is cut,
// and the run resumes.
func TestInputTruncatedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	in := bigModel(t, dir)
	data, _ := os.ReadFile(in)
	nf4In := filepath.Join(dir, "big-nf4.safetensors")
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", in, nf4In); code != 0 {
		t.Fatal(stderr)
	}
	nf4Data, _ := os.ReadFile(nf4In)
	for _, c := range []struct {
		input string
		data  []byte
		args  []string
	}{
		{in, data, []string{"quantize", "--double-quant", in, filepath.Join(dir, "out.safetensors")}},
		{nf4In, nf4Data, []string{"dequantize", nf4In, filepath.Join(dir, "out.safetensors")}},
	} {
		before := tree(t, dir)
		cmd, stderr := start(t, c.args...)
		waitFor(t, cmd, func() bool { return mapped(cmd, c.input) })
		cmd.Process.Signal(syscall.SIGSTOP)
		if err := os.Truncate(c.input, 0); err != nil {
			t.Fatal(err)
		}
		cmd.Process.Signal(syscall.SIGCONT)
		code := wait(t, cmd)
		if code != 1 || !strings.Contains(stderr.String(), c.input) || !strings.Contains(stderr.String(), "shrank while it was being read") {
			t.Errorf("%s: exit %d, %q; want 1 and an error naming the input", c.args[0], code, stderr.String())
		}
		after := tree(t, dir)
		rel, _ := filepath.Rel(dir, c.input)
		if after[rel] != "" {
			t.Errorf("the input is %d bytes, not cut", len(after[rel]))
		}
		after[rel] = before[rel]
		unchanged(t, c.args[0], before, after)
		os.WriteFile(c.input, c.data, 0o644)
	}
}

// Item: Ctrl-C stops every phase promptly, double-quantization planning
// included, and leaves nothing behind; SIGTERM too.
func TestInterruptStopsTheRun(t *testing.T) {
	dir := t.TempDir()
	in := bigModel(t, dir)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		before := tree(t, dir)
		cmd, stderr := start(t, "quantize", "--double-quant", in, filepath.Join(dir, "out.safetensors"))
		waitFor(t, cmd, func() bool { return mapped(cmd, in) })
		cmd.Process.Signal(sig)
		if code := wait(t, cmd); code != 1 || !strings.Contains(stderr.String(), "interrupted; no output was written") {
			t.Errorf("%v: exit %d, %q", sig, code, stderr.String())
		}
		unchanged(t, sig.String(), before, tree(t, dir))
	}
}

// Item: a run killed outright (SIGKILL) leaves its locked temporary
// behind; the next run writing the same name removes it.
func TestKilledRunsTemporaryIsRemovedNextTime(t *testing.T) {
	dir := t.TempDir()
	in := bigModel(t, dir)
	outDir := filepath.Join(dir, "out")
	os.Mkdir(outDir, 0o755)
	out := filepath.Join(outDir, "model.safetensors")
	temps := func() []string {
		m, _ := filepath.Glob(filepath.Join(outDir, ".model.safetensors.*.nf4tmp"))
		return m
	}
	cmd, _ := start(t, "quantize", in, out)
	waitFor(t, cmd, func() bool { return len(temps()) > 0 })
	cmd.Process.Kill()
	wait(t, cmd)
	left := temps()
	if len(left) != 1 {
		t.Fatalf("temporaries after SIGKILL: %v", left)
	}
	// An unrelated file named like a temporary of another output stays.
	other := filepath.Join(outDir, ".other.safetensors.0123456789ab.nf4tmp")
	os.WriteFile(other, nil, 0o644)
	small := floatModel(t, t.TempDir())
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", small, out); code != 0 {
		t.Fatal(stderr)
	}
	if m := temps(); len(m) != 0 {
		t.Errorf("stale temporaries left: %v", m)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another output's temporary was removed: %v", err)
	}
}

// Item: an input reached through a bind mount is still the same file
// (same device and inode) and is refused as an output. As root, the mount
// is made in a mount namespace of the run's own (unshare -m), so it
// vanishes with it.
func TestInputThroughBindMountIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root here: this test needs root to bind-mount")
		}
		t.Skip("needs root to bind-mount")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1)")
	}
	dir := t.TempDir()
	base, adapter := nf4Model(t, dir)
	view := filepath.Join(dir, "view")
	os.Mkdir(view, 0o755)
	before := tree(t, dir)
	script := `mount --bind "$1" "$2" || exit 99; exec "$3" merge "$4" "$1" "$2/adapter_model.safetensors"`
	cmd := exec.Command(unshare, "-m", "sh", "-c", script, "sh", adapter, view, binary, base)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Skipf("unshare -m: %v", err)
	}
	if code == 99 || strings.Contains(stderr.String(), "unshare failed") {
		t.Skipf("the kernel refuses the mount here: %s", stderr.String())
	}
	if code != 1 || !strings.Contains(stderr.String(), "is an input file") {
		t.Errorf("merge into the adapter through a bind mount: exit %d, %q", code, stderr.String())
	}
	unchanged(t, "bind mount", before, tree(t, dir))
}

// Item: a rename that fails after others of the same run succeeded (here
// the index's: a file mounted over it cannot be renamed over, EBUSY)
// leaves the earlier sharded output exactly as it was, shards included.
// As root, in a mount namespace of the run's own.
func TestFailedRenameKeepsTheEarlierShards(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root here: this test needs root to bind-mount")
		}
		t.Skip("needs root to bind-mount")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1)")
	}
	dir := t.TempDir()
	in := floatModel(t, dir)
	out := filepath.Join(dir, "out", "model.safetensors")
	os.Mkdir(filepath.Dir(out), 0o755)
	if _, stderr, code := nf4cmd(t, "quantize", "--quiet", "--shard-size", "10KB", in, out); code != 0 {
		t.Fatal(stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "out", "model-*-of-*.safetensors")); len(m) < 2 {
		t.Fatalf("want a sharded first output, have %v", m)
	}
	cover := filepath.Join(t.TempDir(), "cover")
	os.WriteFile(cover, []byte("{}"), 0o644)
	before := tree(t, dir)
	script := `mount --bind "$1" "$2" || exit 99; exec "$3" quantize --quiet --quant-type fp4 --shard-size 10KB "$4" "$5"`
	cmd := exec.Command(unshare, "-m", "sh", "-c", script, "sh", cover, out+checkpoint.IndexSuffix, binary, in, out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Skipf("unshare -m: %v", err)
	}
	if code == 99 || strings.Contains(stderr.String(), "unshare failed") {
		t.Skipf("the kernel refuses the mount here: %s", stderr.String())
	}
	if code != 1 || !strings.Contains(stderr.String(), "rename into place") {
		t.Errorf("quantize over a busy index: exit %d, %q", code, stderr.String())
	}
	unchanged(t, "a failed rename", before, tree(t, dir))
}
