package server

import (
	"encoding/json"
	"io"

	"github.com/firebreak-msp/firebreak/internal/assess"
)

// writeReport renders rep. Until internal/report lands only JSON is served.
func writeReport(w io.Writer, format string, rep *assess.Report) error {
	if format != "json" {
		return errStatus(501, "report format not available yet")
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
