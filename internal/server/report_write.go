package server

import (
	"io"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/report"
)

// writeReport renders rep with internal/report (html, csv, json, sarif, oscal).
func (s *Server) writeReport(w io.Writer, format string, rep *assess.Report) error {
	return report.Write(w, format, rep, report.Options{Catalog: s.catalog, ToolVersion: s.version, IncludePassing: true})
}
