package server

import (
	"context"
	"net"

	"github.com/firebreak-msp/firebreak/internal/roles"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// newServer composes the parts for o.Config around eng, as cmd/firebreak
// does, and builds the HTTP front on them.
func newServer(o Options, eng *worker.Engines) (*Server, error) {
	n, err := roles.New(roles.Options{Config: o.Config, Store: o.Store, Logger: o.Logger, Now: o.Now, Version: o.Version, Engines: eng})
	if err != nil {
		return nil, err
	}
	o.Node = n
	return New(o)
}

// runServer serves on ln with the parts' background work, as serve does.
func runServer(ctx context.Context, s *Server, ln net.Listener) error {
	return s.node.Run(ctx, nil, func(ctx context.Context) error { return s.Run(ctx, ln, nil) })
}

// setEngines recomposes the server's parts around eng, keeping the current
// estate (tests swap engines after building the fixture).
func (s *Server) setEngines(eng *worker.Engines) {
	e, snap := s.work.CurrentEstate()
	n, err := roles.New(roles.Options{Config: s.cfg, Store: s.st, Logger: s.log, Now: s.now, Version: s.version, Metrics: s.metrics, Engines: eng})
	if err != nil {
		panic(err)
	}
	s.attach(n)
	if e != nil {
		s.work.SetEstate(e, snap)
	}
}
