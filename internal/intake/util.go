package intake

import (
	"maps"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// copyEvent returns ev with its own Fields map (readers reuse theirs).
func copyEvent(ev *event.Event) event.Event {
	c := *ev
	if ev.Fields != nil {
		c.Fields = maps.Clone(ev.Fields)
	}
	return c
}
