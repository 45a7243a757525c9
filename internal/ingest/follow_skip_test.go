package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// TestFollowTellsSkipsOnce: a folder tail tells Options.OnSkip of a binary
// file, a truncated .evtx's damage and an unparsed record, with the file,
// the record or line and detect's reason, each once over many polls
// (the .evtx is re-read at every change).
func TestFollowTellsSkipsOnce(t *testing.T) {
	dir := t.TempDir()
	full := evtxtest.Write(sprayEVTX(300))
	if err := os.WriteFile(filepath.Join(dir, "Security.evtx"), full[:40000], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tool.exe"), append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 600)...), 0o644); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(dir, "auth.log"), sshLine(0))
	var told []string
	opts := Options{OnSkip: func(kind string, s Sample) {
		told = append(told, kind+" "+filepath.Base(s.File)+" "+s.Reason)
	}}
	polls := 0
	stop := errors.New("stop")
	wait := func(context.Context) error {
		polls++
		switch polls {
		case 2: // the .evtx grows, still truncated: read again
			f, err := os.OpenFile(filepath.Join(dir, "Security.evtx"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.Write(full[40000:40100])
			f.Close()
		case 6:
			return stop
		}
		return nil
	}
	err := follow(context.Background(), []string{dir}, opts, func(*event.Event) error { return nil }, wait)
	if !errors.Is(err, stop) {
		t.Fatal(err)
	}
	count := func(sub string) int {
		n := 0
		for _, s := range told {
			if strings.Contains(s, sub) {
				n++
			}
		}
		return n
	}
	if n := count("binary content, not a log (skipped)"); n != 1 {
		t.Errorf("binary file told %d times, want once: %q", n, told)
	}
	if n := count("Security.evtx warning: chunk 0 (offset 4096): truncated chunk (35904 of 65536 bytes)"); n != 1 {
		t.Errorf("truncated chunk told %d times, want once: %q", n, told)
	}
	if count("auth.log") != 0 {
		t.Errorf("a good log told as skipped: %q", told)
	}
}

// TestFollowTellsWalkSkips: a folder tail tells Options.OnSkip of every
// path WalkDir leaves out (a link in a loop, a dangling link, a second
// link to a file read already), each once over many polls, with the
// reasons detect DIR lists in its summary: one walk, one list. The old
// tail dropped WalkDir's skipped list and said nothing.
func TestFollowTellsWalkSkips(t *testing.T) {
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, "auth.log"), sshLine(0))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"sub/loop":     "..",                       // back to the root
		"dangling.log": filepath.Join(dir, "gone"), // to nothing
		"again.log":    "auth.log",                 // a file read already
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	_, want, err := WalkDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 {
		t.Fatalf("WalkDir skipped %q, want the three links", want)
	}
	var told []string
	opts := Options{OnSkip: func(kind string, s Sample) {
		if kind != SkipNotRead || s.Line != 0 {
			t.Errorf("told %s line %d of %s, want %s line 0", kind, s.Line, s.File, SkipNotRead)
		}
		told = append(told, s.File+": "+s.Reason)
	}}
	polls := 0
	stop := errors.New("stop")
	wait := func(context.Context) error {
		if polls++; polls == 4 {
			return stop
		}
		return nil
	}
	if err := follow(context.Background(), []string{dir}, opts, func(*event.Event) error { return nil }, wait); !errors.Is(err, stop) {
		t.Fatal(err)
	}
	slices.Sort(told)
	slices.Sort(want)
	if diff := cmp.Diff(told, want); diff != "" {
		t.Errorf("told (-got +want):\n%s", diff)
	}
}
