package ingest

import (
	"context"
	"errors"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// Follow tails paths like `tail -F`, calling fn for every new event, until
// ctx is done. It survives rotation by rename+create and by copytruncate.
func Follow(ctx context.Context, paths []string, opts Options, fn func(*event.Event) error) error {
	return errors.New("follow: not implemented yet")
}
