package ingest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestArenaStrings: strings from the arena keep their bytes while later
// ones fill and replace its blocks, and the input buffer they were copied
// from is reused.
func TestArenaStrings(t *testing.T) {
	var a arena
	var got, want []string
	src := make([]byte, 0, 1024)
	for i := range 5000 {
		s := fmt.Sprintf("message %d %s", i, strings.Repeat("x", i%700))
		src = append(src[:0], s...)
		got = append(got, a.str(src))
		want = append(want, s)
		clear(src) // the caller's buffer is overwritten by the next line
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("string %d changed: %q", i, got[i])
		}
	}
	if a.str(nil) != "" {
		t.Error("empty")
	}
}

// TestSyslogMessagesSurviveBuffer: every sshd event keeps its own message
// after the reader has moved on through many buffers.
func TestSyslogMessagesSurviveBuffer(t *testing.T) {
	var b bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&b, "Nov 26 10:%02d:%02d h sshd[%d]: Failed password for u%d from 192.0.2.%d port %d ssh2\n", i/60%60, i%60, i, i, i%250+1, i)
	}
	evs, _ := events(t, "auth.log", b.Bytes(), Options{Year: 2026})
	if len(evs) != 20000 {
		t.Fatalf("%d events", len(evs))
	}
	for i, ev := range evs {
		if want := fmt.Sprintf("Failed password for u%d from 192.0.2.%d port %d ssh2", i, i%250+1, i); ev.Message != want {
			t.Fatalf("event %d: message %q, want %q", i, ev.Message, want)
		}
	}
}
