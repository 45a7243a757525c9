package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// TestFollowXMLRestart: serve's tail of a file of rendered event XML,
// stopped and started again while the file grows, reads every event once,
// with nothing unparsed and no warning, and the position it saves is
// exactly the end of the last event read or the start of the next. On the
// old code the saved position stopped up to five bytes short of the next
// event (inside an <Events> root's start tag, or inside the indentation
// between events), and a restart sniffed the file from there: no log
// format, the rest of the file skipped with a warning; and an event half
// written when the tail polled was consumed as a truncated event.
func TestFollowXMLRestart(t *testing.T) {
	evs := sprayEVTX(6)
	recs := make([]string, len(evs))
	for i := range evs {
		recs[i] = strings.TrimSuffix(string(evtxtest.XML(evs[i:i+1], false, false)), "\r\n")
	}
	prolog := "\ufeff<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Events>\r\n"
	indented := func(rs []string) string { return strings.Join(rs, "\r\n\r\n    ") + "\r\n\r\n    " }
	for _, c := range []struct {
		name         string
		before, rest string // written before the first run; appended while the tail is down
	}{
		{"root-only", prolog, strings.Join(recs, "\r\n") + "\r\n</Events>"},
		{"root-events", prolog + strings.Join(recs[:3], "\r\n") + "\r\n", strings.Join(recs[3:], "\r\n") + "\r\n</Events>"},
		{"indented", indented(recs[:3]), indented(recs[3:])},
		{"half-event", strings.Join(recs[:3], "\r\n") + "\r\n" + recs[3][:40], recs[3][40:] + "\r\n" + strings.Join(recs[4:], "\r\n")},
		{"wevtutil", strings.Join(recs[:3], ""), strings.Join(recs[3:], "")},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "forwarded.xml")
			state := filepath.Join(t.TempDir(), "positions.json")
			appendFile(t, path, c.before)
			seen := map[string]int{}
			opts := Options{FollowState: state,
				OnStateError: func(err error) { t.Error(err) },
				OnSkip:       func(kind string, s Sample) { t.Errorf("told %s: %s", kind, s) },
				OnRotate:     func(st Stats) { t.Errorf("rotated: %+v", st) },
			}
			run := func() {
				t.Helper()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				err := follow(ctx, []string{dir}, opts, func(ev *event.Event) error {
					seen[ev.UserName]++
					return nil
				}, stepper([]func(){func() {}}, cancel))
				if err != context.Canceled {
					t.Fatalf("follow: %v", err)
				}
			}
			run()
			// where the first run stopped: the end of the last event it read,
			// or the start of the next
			b, err := os.ReadFile(state)
			if err != nil {
				t.Fatal(err)
			}
			var st followState
			if err := json.Unmarshal(b, &st); err != nil || len(st.Files) != 1 {
				t.Fatalf("positions %s: %v", b, err)
			}
			full := c.before + c.rest
			lastEnd := -1
			if i := strings.LastIndex(c.before, "</Event>"); i >= 0 {
				lastEnd = i + len("</Event>")
			}
			next := max(lastEnd, 0) + strings.Index(full[max(lastEnd, 0):], "<Event ")
			if off := int(st.Files[0].Offset); off != lastEnd && off != next {
				t.Errorf("saved offset %d (%q|%q), want %d (the end of the last event) or %d (the start of the next)",
					off, full[max(off-10, 0):off], full[off:min(off+10, len(full))], lastEnd, next)
			}
			appendFile(t, path, c.rest)
			run()
			for i := range evs {
				if u := fmt.Sprintf("w%d", i); seen[u] != 1 {
					t.Errorf("%s seen %d times, want once (%v)", u, seen[u], seen)
				}
			}
			if len(seen) != len(evs) {
				t.Errorf("seen %v, want w0 to w%d", seen, len(evs)-1)
			}
		})
	}
	if !bytes.Contains(evtxtest.XML(evs[:1], false, false), []byte("<Event ")) {
		t.Fatal("the rendered events have no \"<Event \" start tag")
	}
}
