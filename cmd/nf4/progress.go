package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nf4go/nf4"
)

// progress draws a one-line bar (bytes done, rate, ETA) on a terminal and
// prints a plain line every tenth of the way otherwise, so logs stay
// readable.
type progress struct {
	w       io.Writer
	tty     bool
	start   time.Time
	last    time.Time
	decile  int64
	drawn   bool
	disable bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, start: time.Now(), disable: quiet}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(done, total int64) {
	if p.disable || total <= 0 {
		return
	}
	now := time.Now()
	elapsed := now.Sub(p.start).Seconds()
	rate := float64(done) / max(elapsed, 1e-9)
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	frac := float64(done) / float64(total)
	line := fmt.Sprintf("%3.0f%% %s / %s, %s/s, ETA %s", 100*frac,
		nf4.HumanBytes(int(done)), nf4.HumanBytes(int(total)), nf4.HumanBytes(int(rate)), eta)
	if p.tty {
		if now.Sub(p.last) < 100*time.Millisecond && done < total {
			return
		}
		p.last = now
		const width = 30
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r[%s%s] %s\x1b[K", strings.Repeat("=", n), strings.Repeat(" ", width-n), line)
		p.drawn = true
		return
	}
	if d := done * 10 / total; d > p.decile {
		p.decile = d
		fmt.Fprintln(p.w, "nf4:", line)
	}
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
