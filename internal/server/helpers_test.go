package server

import "github.com/firebreak-msp/firebreak/internal/worker"

// setEngines recomposes the server's parts around eng, keeping the current
// estate (tests swap engines after building the fixture).
func (s *Server) setEngines(eng *worker.Engines) {
	e, snap := s.work.CurrentEstate()
	if err := s.compose(eng); err != nil {
		panic(err)
	}
	if e != nil {
		s.work.SetEstate(e, snap)
	}
}
