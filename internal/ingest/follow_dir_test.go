package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// sprayEVTX is n 4625 failures (users w0..w{n-1}); 300 of them fill more
// than one 64 KiB chunk.
func sprayEVTX(n int) []evtxtest.Event {
	var evs []evtxtest.Event
	for i := range n {
		evs = append(evs, evtxtest.Event{ID: 4625, Time: fixtureBase.Add(time.Duration(i) * time.Second), Computer: "DC01.corp.example", Data: [][2]string{
			{"TargetUserName", fmt.Sprintf("w%d", i)}, {"TargetDomainName", "CORP"}, {"Status", "0xc000006d"}, {"SubStatus", "0xc000006a"},
			{"LogonType", "3"}, {"WorkstationName", "KALI"}, {"IpAddress", "198.51.100.9"}, {"IpPort", "0"}}})
	}
	return evs
}

// TestFollowDirectory: serve's file tail pointed at a folder follows every
// file under it (recursively, new files picked up on the next poll, each
// file's format sniffed on its own), reads an .evtx as its complete chunks
// are written (a chunk half written is read once it is complete), does
// not read a rotated log's compressed archive again, and survives
// rotation inside the folder and a restart (positions in
// Options.FollowState; a half line, a half chunk and a rotation while it
// was down): every event arrives exactly once.
func TestFollowDirectory(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth.log")
	sec := filepath.Join(dir, "dc", "Security.evtx")
	if err := os.MkdirAll(filepath.Dir(sec), 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, auth, sshLine(0)+sshLine(1))
	evs := sprayEVTX(300)
	full := evtxtest.Write(evs)
	if len(full) < 4096+2*65536 {
		t.Fatalf("fixture has %d bytes: want at least two chunks", len(full))
	}
	write := func(p string, b []byte) {
		t.Helper()
		// in place, as Windows rewrites its open chunk (same file)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(b, 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	phase1 := []func(){
		func() { appendFile(t, auth, sshLine(2)) },
		func() { write(sec, evtxtest.Write(evs[:40])) },                            // one chunk, 40 records
		func() { write(sec, full[:4096+65536+30000]) },                             // the first chunk complete, the second half written
		func() { appendFile(t, filepath.Join(dir, "dc", "sshd.log"), sshLine(3)) }, // a new file in a subfolder
		func() { appendFile(t, auth, sshLine(7)[:25]) },                            // half a line when the tail stops
	}
	down := func() { // while the tail is down: the line completed, the chunk finished, auth.log rotated
		appendFile(t, auth, sshLine(7)[25:])
		write(sec, full[:4096+65536+50000])
		if err := os.Rename(auth, auth+".1"); err != nil {
			t.Fatal(err)
		}
		appendFile(t, auth, sshLine(8))
	}
	phase2 := []func(){
		func() { write(sec, full) }, // the rest of the chunks
		func() { // rotation within the folder, compressing the older log (read already)
			old, err := os.ReadFile(auth + ".1")
			if err != nil {
				t.Fatal(err)
			}
			writeGzip(t, auth+".2.gz", string(old))
			if err := os.Remove(auth + ".1"); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(auth, auth+".1"); err != nil {
				t.Fatal(err)
			}
			appendFile(t, auth+".1", sshLine(4))
		},
		func() { appendFile(t, auth, sshLine(5)) },
		func() { appendFile(t, auth+".1", sshLine(6)) }, // late write to the rotated file
		func() {},
	}
	seen := map[string]int{}
	state := filepath.Join(t.TempDir(), "positions.json")
	run := func(steps []func()) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		wait := stepper(steps, cancel)
		err := follow(ctx, []string{dir}, Options{Year: 2026, FollowState: state, OnStateError: func(err error) { t.Error(err) }}, func(ev *event.Event) error {
			seen[ev.UserName]++
			return nil
		}, wait)
		if err != context.Canceled {
			t.Fatalf("follow: %v", err)
		}
	}
	run(phase1)
	down()
	run(phase2)
	var want []string
	for i := range 9 {
		want = append(want, fmt.Sprintf("u%d", i))
	}
	for i := range 300 {
		want = append(want, fmt.Sprintf("w%d", i))
	}
	for _, u := range want {
		if seen[u] != 1 {
			t.Errorf("%s seen %d times, want once", u, seen[u])
		}
	}
	for u := range seen {
		if !slices.Contains(want, u) {
			t.Errorf("unexpected event for %q", u)
		}
	}
}

// TestFollowDirectoryLinks: a followed folder's symbolic links to files
// and folders elsewhere are followed (each file once, however many links
// reach it), and a link back up the tree does not make the scan loop.
func TestFollowDirectoryLinks(t *testing.T) {
	dir, store := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(store, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(store, "acme", "auth.log"), sshLine(0))
	appendFile(t, filepath.Join(store, "globex.log"), sshLine(1))
	for _, l := range [][2]string{
		{filepath.Join(store, "acme"), filepath.Join(dir, "acme")},
		{filepath.Join(store, "globex.log"), filepath.Join(dir, "globex.log")},
		{filepath.Join(store, "globex.log"), filepath.Join(dir, "z-again.log")},
		{dir, filepath.Join(store, "acme", "up")},
	} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := stepper([]func(){
		func() { appendFile(t, filepath.Join(store, "acme", "auth.log"), sshLine(2)) },
		func() {},
	}, cancel)
	err := follow(ctx, []string{dir}, Options{Year: 2026}, func(ev *event.Event) error {
		seen[ev.UserName]++
		return nil
	}, wait)
	if err != context.Canceled {
		t.Fatalf("follow: %v", err)
	}
	for _, u := range []string{"u0", "u1", "u2"} {
		if seen[u] != 1 {
			t.Errorf("%s seen %d times, want once (%v)", u, seen[u], seen)
		}
	}
}
