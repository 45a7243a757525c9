package main

import (
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/integrations"
)

// newRegistry is the one list of connectors this binary knows (the same
// one serve runs): integrations.Definitions. Adding a connector is a new
// package with a connector.Definition and one line there.
func newRegistry() *connector.Registry {
	return connector.NewRegistry(integrations.Definitions()...)
}
