package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/assess"
)

// csvHeader is the CSV format's header row (one row per finding).
var csvHeader = []string{
	"control", "title", "heading", "severity", "status", "subject", "subject_name", "object",
	"message", "file", "line", "evidence", "missing", "remediation",
	"exception_owner", "exception_reason", "exception_expires", "attested_by", "attestation_expires",
}

// writeCSV writes one row per finding (every result but pass and
// not-applicable unless IncludePassing), ordered like the other formats.
// Cells that a spreadsheet would run as a formula are prefixed with '.
func writeCSV(w io.Writer, r *assess.Report, opts Options) error {
	names := map[string]string{}
	for _, s := range r.Scores {
		names[s.Subject] = s.Name
	}
	rows := selectResults(r, opts.IncludePassing)
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	rec := make([]string, len(csvHeader))
	for _, res := range rows {
		clear(rec)
		rec[0], rec[1], rec[2], rec[3] = res.Control, res.Title, strconv.Itoa(res.Heading), res.Severity
		rec[4], rec[5], rec[6], rec[7] = string(res.Status), res.Subject, names[res.Subject], res.Object
		rec[8] = res.Message
		if pos, ok := firstPos(res); ok {
			rec[9], rec[10] = pos.File, strconv.Itoa(pos.Line)
		}
		ev := make([]string, len(res.Evidence))
		for j, e := range res.Evidence {
			ev[j] = evidenceText(e)
		}
		rec[11] = strings.Join(ev, " | ")
		rec[12] = strings.Join(res.Missing, " | ")
		rec[13] = res.Remediation
		if x := res.Exception; x != nil {
			rec[14], rec[15] = x.Owner, x.Reason
			if x.Expires != nil {
				rec[16] = x.Expires.String()
			}
		}
		if a := res.Attestation; a != nil {
			rec[17] = a.By
			if a.Expires != nil {
				rec[18] = a.Expires.String()
			}
		}
		for j := range rec {
			rec[j] = CSVCell(rec[j])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// CSVCell (one cell of any CSV firebreak writes) prefixes cells starting with = + - @ (or tab/CR) with a
// quote so spreadsheets show them as text instead of evaluating them
// (estate data is attacker-influenced: names come from customer tenants).
func CSVCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
