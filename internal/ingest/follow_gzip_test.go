package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// gzipped is s compressed with gzip.
func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeGzip(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, gzipped(t, s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// detectFolder is what detect DIR reads from dir: the users of every event
// of every file WalkDir lists, sorted.
func detectFolder(t *testing.T, dir string) []string {
	t.Helper()
	files, _, err := WalkDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, f := range files {
		r, err := Open(context.Background(), f, Options{Year: 2026})
		if err != nil {
			t.Fatal(err)
		}
		var ev event.Event
		for {
			err := r.Next(&ev)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			users = append(users, ev.UserName)
		}
		r.Close()
	}
	slices.Sort(users)
	return users
}

// TestFollowGzip: a folder tail reads the gzip files detect DIR reads —
// one there from the start, one written while it runs (read once complete,
// not while half written) — each once, across a restart, and does not read
// a rotated log's archive (auth.log compressed into auth.log.1.gz while
// the tail was down) again: the tail's events are detect's on the same
// folder. The old tail left every .gz out.
func TestFollowGzip(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth.log")
	lines := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			b.WriteString(sshLine(i))
		}
		return b.String()
	}
	appendFile(t, auth, lines(0, 3))
	writeGzip(t, filepath.Join(dir, "auth.log.3.gz"), lines(10, 13))
	late := gzipped(t, lines(20, 23))
	seen := map[string]int{}
	state := filepath.Join(t.TempDir(), "positions.json")
	var told []string
	run := func(steps []func()) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		opts := Options{Year: 2026, FollowState: state, OnStateError: func(err error) { t.Error(err) },
			OnSkip: func(kind string, s Sample) { told = append(told, kind+" "+s.String()) }}
		err := follow(ctx, []string{dir}, opts, func(ev *event.Event) error {
			seen[ev.UserName]++
			return nil
		}, stepper(steps, cancel))
		if err != context.Canceled {
			t.Fatalf("follow: %v", err)
		}
	}
	half := filepath.Join(dir, "late.log.gz")
	run([]func(){
		func() {
			if err := os.WriteFile(half, late[:len(late)/2], 0o600); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if seen["u20"] != 0 {
				t.Errorf("a gzip file half written was read: %v", seen)
			}
			appendFile(t, half, string(late[len(late)/2:]))
		},
		func() {},
	})
	// while the tail is down: auth.log rotated and compressed at once
	old, err := os.ReadFile(auth)
	if err != nil {
		t.Fatal(err)
	}
	writeGzip(t, auth+".1.gz", string(old))
	if err := os.Remove(auth); err != nil {
		t.Fatal(err)
	}
	appendFile(t, auth, sshLine(3))
	run([]func(){func() {}, func() {}})

	var got []string
	for u, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times, want once", u, n)
		}
		got = append(got, u)
	}
	slices.Sort(got)
	if d := cmp.Diff(got, detectFolder(t, dir)); d != "" {
		t.Errorf("the tail's events and detect's on the folder (-tail +detect):\n%s", d)
	}
	if len(told) != 0 {
		t.Errorf("told %q, want nothing", told)
	}
}
