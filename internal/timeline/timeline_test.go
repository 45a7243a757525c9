package timeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// reuse is a Source that, like ingest.Reader, reuses its Fields map.
type reuse struct {
	evs    []event.Event
	i      int
	fields map[string]string
	err    error // returned after the events, instead of io.EOF, when set
}

func (r *reuse) Next(ev *event.Event) error {
	if r.i >= len(r.evs) {
		if r.err != nil {
			return r.err
		}
		return (&Slice{}).Next(ev)
	}
	*ev = r.evs[r.i]
	if r.fields == nil {
		r.fields = map[string]string{}
	}
	clear(r.fields)
	for k, v := range r.evs[r.i].Fields {
		r.fields[k] = v
	}
	ev.Fields = r.fields
	r.i++
	return nil
}

// gen makes n sources of random lengths, each in time order (with equal
// times within and across sources), tagged with their source and position.
func gen(rng *rand.Rand, n int) [][]event.Event {
	out := make([][]event.Event, n)
	for s := range out {
		m := rng.IntN(40)
		at := t0
		for k := range m {
			at = at.Add(time.Duration(rng.IntN(3)) * time.Second) // 0: ties
			out[s] = append(out[s], event.Event{Timestamp: at, Message: fmt.Sprintf("%d/%d", s, k), Fields: map[string]string{"src": fmt.Sprint(s)}})
		}
	}
	return out
}

// want is the order Merge promises: a stable sort of the sources
// concatenated in the order they are listed.
func want(srcs [][]event.Event) []string {
	var all []event.Event
	for _, s := range srcs {
		all = append(all, s...)
	}
	slices.SortStableFunc(all, func(a, b event.Event) int { return Compare(&a, &b) })
	var out []string
	for _, e := range all {
		out = append(out, e.Message)
	}
	return out
}

func run(t *testing.T, srcs [][]event.Event, o Options) ([]string, []int) {
	t.Helper()
	ss := make([]Source, len(srcs))
	for i, s := range srcs {
		ss[i] = &reuse{evs: s}
	}
	var got []string
	var done []int
	o.Done = func(i int) { done = append(done, i) }
	err := Merge(context.Background(), ss, o, func(i int, ev *event.Event) error {
		if ev.Fields["src"] != fmt.Sprint(i) {
			t.Fatalf("event %s tagged with source %d carries fields %v", ev.Message, i, ev.Fields)
		}
		got = append(got, ev.Message)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, done
}

func TestMergeOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		srcs := gen(rng, 1+rng.IntN(5))
		w := want(srcs)
		for _, sort := range []bool{false, true} {
			got, done := run(t, srcs, Options{Sort: sort})
			if !slices.Equal(got, w) {
				t.Fatalf("round %d sort=%v:\n got %v\nwant %v", round, sort, got, w)
			}
			if len(done) != len(srcs) {
				t.Fatalf("round %d sort=%v: done %v for %d sources", round, sort, done, len(srcs))
			}
		}
	}
}

// A newest-first source is sorted in memory and reported; Done lists
// sources as they end, the empty one last.
func TestBackwardsAndDone(t *testing.T) {
	fwd := []event.Event{{Timestamp: t0, Message: "a1"}, {Timestamp: t0.Add(3 * time.Second), Message: "a2"}}
	var rev []event.Event
	for k := 5; k >= 0; k-- {
		rev = append(rev, event.Event{Timestamp: t0.Add(time.Duration(k) * time.Second), Message: fmt.Sprintf("b%d", k)})
	}
	var back []int
	ss := []Source{&Slice{Events: fwd}, &Slice{}, &Slice{Events: rev}}
	var got []string
	var done []int
	err := Merge(context.Background(), ss, Options{Sniff: 3, Backwards: func(i, n int) { back = append(back, i, n) }, Done: func(i int) { done = append(done, i) }},
		func(_ int, ev *event.Event) error { got = append(got, ev.Message); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if w := []string{"a1", "b0", "b1", "b2", "a2", "b3", "b4", "b5"}; !slices.Equal(got, w) {
		t.Errorf("order %v, want %v", got, w)
	}
	if !slices.Equal(back, []int{2, 6}) {
		t.Errorf("backwards reports %v, want source 2 with 6 events", back)
	}
	if !slices.Equal(done, []int{0, 2, 1}) {
		t.Errorf("done order %v, want [0 2 1]", done)
	}
}

func TestErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, sort := range []bool{false, true} {
		ss := []Source{&reuse{evs: []event.Event{{Timestamp: t0}}, err: boom}}
		if err := Merge(context.Background(), ss, Options{Sort: sort}, func(int, *event.Event) error { return nil }); !errors.Is(err, boom) {
			t.Errorf("sort=%v: read error %v, want boom", sort, err)
		}
		stop := errors.New("stop")
		ss = []Source{&Slice{Events: []event.Event{{Timestamp: t0}, {Timestamp: t0}}}}
		n := 0
		if err := Merge(context.Background(), ss, Options{Sort: sort}, func(int, *event.Event) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Errorf("sort=%v: emit error %v after %d events, want stop after 1", sort, err, n)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	many := make([]event.Event, 10000)
	if err := Merge(ctx, []Source{&Slice{Events: many}}, Options{}, func(int, *event.Event) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled merge: %v", err)
	}
}
