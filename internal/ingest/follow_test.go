package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/event"
)

func sshLine(i int) string {
	return fmt.Sprintf("Nov 26 10:00:%02d h sshd[1]: Failed password for u%d from 192.0.2.1 port %d ssh2\n", i%60, i, 1000+i)
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestFollowRotation drives follow with a scripted wait: each wait performs
// the next step (append, rename+create, copytruncate, partial lines), so
// the test needs no sleeps.
func TestFollowRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.log")
	appendFile(t, path, sshLine(0)+sshLine(1))
	steps := []func(){
		func() { appendFile(t, path, sshLine(2)) },
		func() { appendFile(t, path, sshLine(3)[:20]) }, // partial line
		func() { appendFile(t, path, sshLine(3)[20:]) },
		func() { // rename+create, with a last line written to the old file after the rename
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path+".1", sshLine(4))
		},
		func() {}, // the path is missing for a while
		func() { appendFile(t, path, sshLine(5)) }, // re-created
		func() { appendFile(t, path, sshLine(6)+sshLine(7)) },
		func() { // copytruncate
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		},
		func() { appendFile(t, path, sshLine(8)) },
		func() { appendFile(t, path, "garbage\n"+sshLine(9)) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := stepper(steps, cancel)
	var got []string
	var rotated []int64
	opts := Options{Year: 2026, OnRotate: func(s Stats) { rotated = append(rotated, s.Parsed) }}
	err := follow(ctx, []string{path}, opts, func(ev *event.Event) error {
		got = append(got, ev.UserName)
		return nil
	}, wait)
	if err != context.Canceled {
		t.Fatalf("follow: %v", err)
	}
	want := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("events (-got +want):\n%s", d)
	}
	if d := cmp.Diff(rotated, []int64{5, 3}); d != "" {
		t.Errorf("rotations (-got +want):\n%s", d)
	}
}

func TestFollowFromEndAndMissing(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	b := filepath.Join(dir, "b.log") // does not exist yet
	appendFile(t, a, sshLine(0))
	steps := []func(){
		func() { appendFile(t, a, sshLine(1)) },
		func() { appendFile(t, b, sshLine(2)) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := stepper(steps, cancel)
	var got []string
	err := follow(ctx, []string{a, b}, Options{Year: 2026, FollowFromEnd: true}, func(ev *event.Event) error {
		got = append(got, ev.UserName)
		return nil
	}, wait)
	if err != context.Canceled {
		t.Fatal(err)
	}
	if d := cmp.Diff(got, []string{"u1", "u2"}); d != "" {
		t.Errorf("(-got +want):\n%s", d)
	}
}

func TestFollowPublicStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.log")
	appendFile(t, p, sshLine(0))
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Follow(ctx, []string{p}, Options{Year: 2026}, func(ev *event.Event) error {
		n++
		cancel() // stop after the first event
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("err %v, events %d", err, n)
	}
}

// stepper is follow's wait between polls for a test: each call runs the
// next step (a write, a rotation); after the last it cancels and ends.
func stepper(steps []func(), cancel context.CancelFunc) func(context.Context) error {
	step := 0
	return func(ctx context.Context) error {
		if step == len(steps) {
			cancel()
			return ctx.Err()
		}
		steps[step]()
		step++
		return nil
	}
}

// TestFollowCommitsBeforeSaving: Options.FollowCommit runs after a poll's
// events and before its positions are saved; when it fails, Follow ends
// with its error and the saved positions stay those of the last commit, so
// a restart reads the uncommitted events again (none lost, none twice).
func TestFollowCommitsBeforeSaving(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.log")
	state := filepath.Join(dir, "state.json")
	appendFile(t, path, sshLine(0)+sshLine(1))
	var pending, committed []string
	refuse := errors.New("store refused (test)")
	fail := false
	opts := Options{Year: 2026, FollowState: state, FollowCommit: func() error {
		if fail {
			return refuse
		}
		committed, pending = append(committed, pending...), nil
		return nil
	}}
	fn := func(ev *event.Event) error { pending = append(pending, ev.UserName); return nil }
	polls := 0
	wait := func(context.Context) error {
		polls++
		switch polls {
		case 1:
			appendFile(t, path, sshLine(2))
			fail = true // the next poll's commit is refused
		}
		return nil
	}
	if err := follow(context.Background(), []string{path}, opts, fn, wait); !errors.Is(err, refuse) {
		t.Fatalf("follow = %v, want the commit's error", err)
	}
	if diff := cmp.Diff(committed, []string{"u0", "u1"}); diff != "" {
		t.Errorf("committed lines (-got +want):\n%s", diff)
	}
	// restarted: the refused u2 is read again, u0 and u1 are not
	fail, pending, committed = false, nil, nil
	polls = 0
	stop := errors.New("stop")
	wait = func(context.Context) error { return stop }
	if err := follow(context.Background(), []string{path}, opts, fn, wait); !errors.Is(err, stop) {
		t.Fatal(err)
	}
	if diff := cmp.Diff(committed, []string{"u2"}); diff != "" {
		t.Errorf("after the restart, committed lines (-got +want):\n%s", diff)
	}
}
