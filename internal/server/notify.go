package server

import (
	"context"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// notifyIncident sends a new or changed incident to the notification
// targets whose tenant and minimum severity match.
func (s *Server) notifyIncident(ctx context.Context, inc *store.Incident, created bool) {
	if s.notifier == nil {
		return
	}
	s.notifier(ctx, inc, created)
}
