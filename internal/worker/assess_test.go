package worker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
)

// An estate directory that stays empty fails every poll; the failure is
// logged once, not once per tick.
func TestSchedulerLogsEstateErrorOncePerState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		cfg := config.Config{}
		cfg.Estate.Paths = []string{t.TempDir()}
		cfg.Estate.PollInterval = 10 * time.Second
		cfg.Assess.Interval = time.Hour
		w, err := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&buf, nil)), Engines: &Engines{}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { w.runScheduler(ctx); close(done) }()
		time.Sleep(2 * time.Minute) // twelve polls
		synctest.Wait()
		cancel()
		<-done
		if n := strings.Count(buf.String(), "estate reload"); n != 1 {
			t.Fatalf("estate reload logged %d times over 12 polls, want 1:\n%s", n, buf.String())
		}
	})
}

func TestStateLogTransitions(t *testing.T) {
	var buf bytes.Buffer
	s := stateLog{log: slog.New(slog.NewTextHandler(&buf, nil)), msg: "op", level: slog.LevelError}
	a, b := errors.New("a broke"), errors.New("b broke")
	for _, err := range []error{nil, a, a, a, b, b, nil, nil, a} {
		s.report(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		switch {
		case strings.Contains(l, "recovered"):
			got = append(got, "recovered")
		case strings.Contains(l, "a broke"):
			got = append(got, "a")
		case strings.Contains(l, "b broke"):
			got = append(got, "b")
		}
	}
	if want := "a b recovered a"; strings.Join(got, " ") != want {
		t.Fatalf("logged %q, want %q:\n%s", strings.Join(got, " "), want, buf.String())
	}
}
