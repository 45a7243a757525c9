package collect

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress draws a one-line bar with rate and ETA on a terminal and stays
// silent otherwise (when output is piped).
type Progress struct {
	w     io.Writer
	tty   bool
	label string
	now   func() time.Time

	mu    sync.Mutex
	start time.Time
	last  time.Time
	done  int
	total int
}

// NewProgress returns a bar writing to w when tty is true.
func NewProgress(w io.Writer, tty bool, label string, now func() time.Time) *Progress {
	if now == nil {
		now = time.Now
	}
	return &Progress{w: w, tty: tty, label: label, now: now, start: now()}
}

// Set records progress; safe for concurrent use.
func (p *Progress) Set(done, total int) {
	if p == nil || !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
	t := p.now()
	if done < total && t.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = t
	p.draw(t)
}

func (p *Progress) draw(t time.Time) {
	const width = 30
	fill := 0
	if p.total > 0 {
		fill = width * p.done / p.total
	}
	el := t.Sub(p.start).Seconds()
	rate, eta := 0.0, ""
	if el > 0 {
		rate = float64(p.done) / el
	}
	if rate > 0 && p.total > p.done {
		eta = " ETA " + (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %.1f/s%s\x1b[K", p.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), p.done, p.total, rate, eta)
}

// Finish ends the line.
func (p *Progress) Finish() {
	if p == nil || !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(p.now())
	fmt.Fprintln(p.w)
}
