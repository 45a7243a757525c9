// Package timeline is the one time-ordered merge of event sources: several
// inputs (auth.log and auth.log.1, one export per server, the stored events
// of the last day) become one stream in event time, the order detection's
// windows slide in. `firebreak detect`, the service's one-shot file import
// and detection's restart replay all order events through it.
package timeline

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// Compare orders events by time; equal times compare equal, so a stable
// sort keeps input order among them. It is the order Merge produces.
func Compare(a, b *event.Event) int { return a.Timestamp.Compare(b.Timestamp) }

// Copy returns ev with its own Fields map (readers reuse theirs).
func Copy(ev *event.Event) event.Event {
	c := *ev
	if ev.Fields != nil {
		c.Fields = maps.Clone(ev.Fields)
	}
	return c
}

// Source is one input's events in the order the input holds them.
type Source interface {
	// Next reads the next event into ev; io.EOF at the end.
	Next(ev *event.Event) error
}

// DefaultSniff is how many events are inspected to tell a newest-first input.
const DefaultSniff = 256

// Options tune Merge.
type Options struct {
	// Sort reads every source whole and sorts all events in memory, for
	// inputs not in time order within themselves. Without it sources are
	// streamed (memory bounded by the sources' count), each assumed to be
	// in time order, except one that runs newest-first (see Sniff).
	Sort bool
	// Sniff is how many events of each source are inspected to tell one
	// that runs newest-first (some exports do); such a source is read
	// whole and sorted. 0 means DefaultSniff.
	Sniff int
	// Backwards, when set, is told that source i ran newest-first and n of
	// its events were sorted in memory.
	Backwards func(i, n int)
	// Done, when set, is told once per source that it has no more events,
	// in the order they end (sources that held no event at all, last).
	Done func(i int)
}

// Merge calls emit with every event of srcs in time order (Compare); ties
// go to the source listed first and, within a source, keep its order. The
// event passed to emit is valid only during the call. A source's read
// error or emit's error ends the merge; ctx is checked every 4096 events.
func Merge(ctx context.Context, srcs []Source, o Options, emit func(i int, ev *event.Event) error) error {
	if o.Sniff <= 0 {
		o.Sniff = DefaultSniff
	}
	done := func(i int) {
		if o.Done != nil {
			o.Done(i)
		}
	}
	if o.Sort {
		type tagged struct {
			ev  event.Event
			src int
		}
		var all []tagged
		for i, s := range srcs {
			var ev event.Event
			for {
				err := s.Next(&ev)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return err
				}
				all = append(all, tagged{Copy(&ev), i})
				if len(all)&4095 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
			}
			done(i)
		}
		slices.SortStableFunc(all, func(a, b tagged) int { return Compare(&a.ev, &b.ev) })
		for k := range all {
			if k&4095 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := emit(all[k].src, &all[k].ev); err != nil {
				return err
			}
		}
		return nil
	}
	cur := make([]*cursor, len(srcs))
	for i, s := range srcs {
		c, err := open(s, o.Sniff)
		if err != nil {
			return err
		}
		if c.sorted && o.Backwards != nil {
			o.Backwards(i, len(c.buf))
		}
		cur[i] = c
	}
	for n := 0; ; n++ {
		if n&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		// The source whose next event is earliest; ties go to the source
		// listed first. Sources are few, so a linear scan beats a heap.
		best := -1
		for i, c := range cur {
			if c.ok && (best < 0 || c.ev.Timestamp.Before(cur[best].ev.Timestamp)) {
				best = i
			}
		}
		if best < 0 {
			// Sources that held no event at all end last, in order.
			for i, c := range cur {
				if !c.ended {
					done(i)
				}
			}
			return nil
		}
		c := cur[best]
		if err := emit(best, c.ev); err != nil {
			return err
		}
		if err := c.advance(); err != nil {
			return err
		}
		if !c.ok {
			c.ended = true
			done(best)
		}
	}
}

// cursor is one streamed source positioned on its next event.
type cursor struct {
	src    Source
	buf    []event.Event // the sniffed head, or the whole sorted input
	next   int           // index into buf of the event after ev
	own    event.Event   // reused when streaming
	ev     *event.Event  // the current event, valid while ok
	ok     bool
	sorted bool // ran newest-first, sorted in memory
	ended  bool // Done was told
}

func open(s Source, sniff int) (*cursor, error) {
	c := &cursor{src: s}
	read := func(limit int) error {
		for limit < 0 || len(c.buf) < limit {
			err := s.Next(&c.own)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			c.buf = append(c.buf, Copy(&c.own))
		}
		return nil
	}
	if err := read(sniff); err != nil {
		return nil, err
	}
	if backwards(c.buf) {
		if err := read(-1); err != nil {
			return nil, err
		}
		slices.SortStableFunc(c.buf, func(a, b event.Event) int { return Compare(&a, &b) })
		c.sorted = true
	}
	return c, c.advance()
}

// advance moves to the next event; ok is false at the end.
func (c *cursor) advance() error {
	if c.next < len(c.buf) {
		c.ev = &c.buf[c.next]
		c.next++
		c.ok = true
		return nil
	}
	c.buf, c.next = nil, 0
	err := c.src.Next(&c.own)
	if errors.Is(err, io.EOF) {
		c.ok = false
		return nil
	}
	if err != nil {
		c.ok = false
		return err
	}
	c.ev, c.ok = &c.own, true
	return nil
}

// backwards reports whether evs mostly run newest-first.
func backwards(evs []event.Event) bool {
	up, down := 0, 0
	for i := 1; i < len(evs); i++ {
		switch evs[i].Timestamp.Compare(evs[i-1].Timestamp) {
		case 1:
			up++
		case -1:
			down++
		}
	}
	return down > up
}

// Slice is a Source over events in memory.
type Slice struct {
	Events []event.Event
	i      int
}

// Next implements Source.
func (s *Slice) Next(ev *event.Event) error {
	if s.i >= len(s.Events) {
		return io.EOF
	}
	*ev = s.Events[s.i]
	s.i++
	return nil
}
