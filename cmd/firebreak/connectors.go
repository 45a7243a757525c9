package main

import (
	"github.com/firebreak-msp/firebreak/internal/collect/google"
	"github.com/firebreak-msp/firebreak/internal/collect/graph"
	"github.com/firebreak-msp/firebreak/internal/collect/okta"
	"github.com/firebreak-msp/firebreak/internal/connector"
)

// newRegistry lists every connector this binary knows. Adding one is a new
// package with a connector.Definition and one line here.
func newRegistry() *connector.Registry {
	return connector.NewRegistry(
		graph.Definition,
		okta.Definition,
		google.Definition,
	)
}
