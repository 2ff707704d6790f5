package progress

import (
	"bytes"
	"strings"
	"testing"
)

// Off a terminal the bar prints about ten plain lines, the last at 100 %.
func TestPlainLines(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "train", 50)
	for i := 1; i <= 50; i++ {
		b.Update(i, "loss 1.0")
	}
	b.Done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 9 || len(lines) > 11 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	if !strings.HasPrefix(lines[len(lines)-1], "train 50/50 loss 1.0") || strings.Contains(buf.String(), "\r") {
		t.Errorf("last line %q; output %q", lines[len(lines)-1], buf.String())
	}
	var none bytes.Buffer
	New(&none, "x", 0).Update(1, "")
	if none.Len() != 0 {
		t.Errorf("a bar of no units printed %q", none.String())
	}
}
