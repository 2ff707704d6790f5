//go:build unix

package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nf4go/nf4/checkpoint"
)

// start starts the binary; its stderr is collected.
func start(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// waitFor polls cond every millisecond while cmd runs; a run that ends
// first, or a condition never met, fails the test.
func waitFor(t *testing.T, cmd *exec.Cmd, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("nf4 %q: the state awaited never came", cmd.Args[1:])
		}
		time.Sleep(time.Millisecond)
	}
}

// wait waits for cmd, at most two minutes (a hang is a failure), and
// returns its exit status.
func wait(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 0
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("nf4 %q did not end", cmd.Args[1:])
		return -1
	}
}

// bigModel writes 32 MiB of BF16 weights: a run over it lasts long
// enough to be caught while it reads.
func bigModel(t *testing.T, dir string) string {
	t.Helper()
	in := filepath.Join(dir, "big.safetensors")
	var es []checkpoint.Entry
	data := checkpoint.EncodeFloats(nil, values(1024*4096, 0.1), checkpoint.BF16)
	for _, name := range []string{"l0.weight", "l1.weight", "l2.weight", "l3.weight"} {
		es = append(es, checkpoint.Entry{Name: name, DType: checkpoint.BF16, Shape: []int{1024, 4096}, Data: data})
	}
	if err := checkpoint.WriteFile(t.Context(), in, nil, es, nil); err != nil {
		t.Fatal(err)
	}
	return in
}
