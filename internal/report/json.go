package report

import (
	"io"

	"github.com/firebreak-msp/firebreak/internal/assess"
)

// writeJSON writes the report document as documented in doc.go: the
// assess.Report value, indented, results in engine order. Results are
// streamed, so memory does not grow with the size of the output.
func writeJSON(w io.Writer, r *assess.Report) error {
	skel := *r
	skel.Results = nil
	return writeSpliced(w, &skel, splice{key: "results", n: len(r.Results), item: func(i int) any { return &r.Results[i] }, concurrent: true})
}
