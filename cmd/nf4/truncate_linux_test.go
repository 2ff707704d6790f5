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
	"time"

	"github.com/nf4go/nf4/checkpoint"
)

// Item: an input truncated while the command has it mapped ends the run
// with exit 1 and an error naming the file, not a SIGBUS crash (exit 2,
// "fatal error: fault"), and leaves no output or temporary behind. The
// run is stopped as soon as /proc shows the mapping, the input is cut,
// and the run resumes.
func TestInputTruncatedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "big.safetensors")
	var es []checkpoint.Entry
	for _, name := range []string{"l0.weight", "l1.weight", "l2.weight", "l3.weight"} {
		es = append(es, checkpoint.Entry{Name: name, DType: checkpoint.BF16, Shape: []int{1024, 4096},
			Data: checkpoint.EncodeFloats(nil, values(1024*4096, 0.1), checkpoint.BF16)})
	}
	if err := checkpoint.WriteFile(t.Context(), in, nil, es, nil); err != nil {
		t.Fatal(err)
	}
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
		cmd := exec.Command(binary, c.args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		mapsFile := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "maps")
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if m, _ := os.ReadFile(mapsFile); bytes.Contains(m, []byte(c.input)) {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("%s never mapped its input", c.args[0])
			}
			time.Sleep(time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGSTOP)
		if err := os.Truncate(c.input, 0); err != nil {
			t.Fatal(err)
		}
		cmd.Process.Signal(syscall.SIGCONT)
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
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
