package report

import (
	"encoding/json"
	"io"

	"github.com/firebreak-msp/firebreak/internal/assess"
)

// writeJSON writes the report document as documented in doc.go: the
// assess.Report value, indented, results in engine order.
func writeJSON(w io.Writer, r *assess.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
