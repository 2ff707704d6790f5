// Package progress draws a one-line progress bar on a terminal and prints
// plain lines (about every tenth of the way) otherwise, so that logs stay
// readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Bar reports the progress of one task of Total units.
type Bar struct {
	w       io.Writer
	label   string
	total   int
	tty     bool
	start   time.Time
	last    time.Time
	decile  int
	drawn   bool
	lastMsg string
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// New starts a bar labelled label for total units, drawn on w.
func New(w io.Writer, label string, total int) *Bar {
	return &Bar{w: w, label: label, total: total, tty: IsTerminal(w), start: time.Now()}
}

// Update reports done units and a short status (e.g. "loss 3.21").
func (b *Bar) Update(done int, status string) {
	if b == nil || b.total <= 0 {
		return
	}
	now := time.Now()
	frac := min(1, float64(done)/float64(b.total))
	elapsed := now.Sub(b.start)
	eta := "?"
	if done > 0 {
		eta = (time.Duration(float64(elapsed)/frac) - elapsed).Round(time.Second).String()
	}
	line := fmt.Sprintf("%s %d/%d", b.label, done, b.total)
	if status != "" {
		line += " " + status
	}
	if b.tty {
		if now.Sub(b.last) < 100*time.Millisecond && done < b.total {
			return
		}
		b.last = now
		const width = 24
		n := int(frac * width)
		fmt.Fprintf(b.w, "\r[%s%s] %s, %s, ETA %s\x1b[K", strings.Repeat("=", n), strings.Repeat(" ", width-n), line,
			elapsed.Round(time.Second), eta)
		b.drawn = true
		return
	}
	if d := int(frac * 10); d > b.decile || done == b.total && b.lastMsg != line {
		b.decile = d
		b.lastMsg = line
		fmt.Fprintf(b.w, "%s (%s)\n", line, elapsed.Round(time.Millisecond))
	}
}

// Done ends the bar's line on a terminal.
func (b *Bar) Done() {
	if b != nil && b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}
