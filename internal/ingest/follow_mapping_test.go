package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// TestFollowDirSkipsFileNeedingMapping: a folder tail that finds a JSON file
// of the generic format (no --mapping) tells it as not read and goes on
// following the folder, as detect DIR warns and reads the rest; it ended the
// whole tail (serve logged one error and read nothing more: examples/
// harbourview/logs lost winlogbeat-security.ndjson after rmm-audit.jsonl).
func TestFollowDirSkipsFileNeedingMapping(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a-audit.jsonl"), []byte(`{"when":"2026-11-26T04:00:00Z","who":"x","what":"y"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(dir, "b-auth.log"), sshLine(0))
	var told []string
	opts := Options{OnSkip: func(kind string, s Sample) { told = append(told, filepath.Base(s.File)+" "+s.Reason) }}
	polls, events := 0, 0
	stop := errors.New("stop")
	wait := func(context.Context) error {
		if polls++; polls == 3 {
			return stop
		}
		return nil
	}
	err := follow(context.Background(), []string{dir}, opts, func(*event.Event) error { events++; return nil }, wait)
	if !errors.Is(err, stop) {
		t.Fatalf("follow: %v", err)
	}
	if events != 1 {
		t.Errorf("%d events from b-auth.log, want 1", events)
	}
	if len(told) != 1 || !strings.Contains(told[0], "a-audit.jsonl") || !strings.Contains(told[0], "mapping") {
		t.Errorf("told %q, want a-audit.jsonl once as needing a mapping", told)
	}
}
