// Package report renders an assessment (*assess.Report) for people and
// machines: a terminal table, JSON, a self-contained HTML file, CSV, SARIF
// 2.1.0 and OSCAL 1.2 assessment results. Write renders to an io.Writer;
// WriteFile renders to a temporary file beside the target and renames it
// into place, so a failed run never leaves a half-written report.
//
// report imports assess, estate and catalog (for rule text) and nothing
// else from firebreak; commands, the server and notifiers import it.
//
// # Formats
//
//   - table: for a terminal. Headline counts, one row per subject (the MSP
//     first, then tenants worst score first, at most
//     Options.TableMaxSubjects rows) with failing results by
//     severity, then the failing controls most worth fixing (most severe,
//     then widest) with one example location each. ANSI colour only when
//     Options.Color is set (see UseColor: a TTY, no --no-color, no NO_COLOR).
//   - json: the document described below.
//   - html: one file with inline CSS and a few lines of inline script (for
//     filtering); no external assets. Summary cards, subjects worst first,
//     pass/fail per advisory heading, a controls × subjects matrix (capped at
//     Options.MatrixMaxSubjects columns, worst first), and every finding
//     grouped by control with its evidence (file:line), rationale,
//     remediation and references. Every value is escaped by html/template.
//   - csv: a header row, then one row per finding (every result except pass
//     and not-applicable, unless Options.IncludePassing): control, title,
//     heading, severity, status, subject, subject_name, object, message,
//     file, line (of the first evidence), evidence ("kind id (detail) at
//     file:line:col" joined by " | "), missing, remediation,
//     exception_owner, exception_reason, exception_expires, attested_by,
//     attestation_expires. Cells starting with = + - @ are prefixed with '
//     so spreadsheets do not evaluate them.
//   - sarif: SARIF 2.1.0, one run, one rule per control (from the catalog
//     when Options.Catalog is set, with rationale, remediation, references,
//     heading and a GitHub security-severity), one result per finding
//     located at the estate file line of its first evidence (further
//     evidence as relatedLocations; the subject and object as logical
//     locations). Fails are kind "fail" with level error (critical, high),
//     warning (medium) or note; excepted results carry an accepted external
//     suppression with the exception's owner and reason; not-evaluable
//     results are kind "review". partialFingerprints are stable across runs.
//   - oscal: an OSCAL 1.2.3 (the current NIST release) assessment-results document with
//     one result for the run: reviewed controls (the catalog), one
//     observation per result with its evidence as relevant-evidence
//     (file:line as href), and one finding per observation targeting the
//     control with state satisfied (pass, attested, not applicable) or
//     not-satisfied (fail, excepted, not evaluable) and the firebreak status
//     as a property. UUIDs are derived from the content, so the same report
//     renders identically.
//
// The SARIF and OSCAL outputs are validated in tests against the official
// JSON schemas kept in testdata/.
//
// # JSON document (version "1")
//
// The json format is the assess.Report value, indented:
//
//	{
//	  "version":  "1",                       // this document's schema version
//	  "at":       "2026-11-27T09:00:00Z",    // evaluation time (RFC 3339)
//	  "provider": "Harbourview IT Services",
//	  "sources":  ["examples/harbourview/tools.yaml", ...],
//	  "results": [{
//	    "control":  "FB-MFA-001",            // catalog id
//	    "title":    "MFA is enforced on every identity that reaches the customer",
//	    "heading":  3,                       // AA22-131A heading 1..12 (0: custom policy)
//	    "severity": "critical",              // critical, high, medium, low, info
//	    "subject":  "cedar-law",             // "msp" or a tenant id
//	    "object":   "tech-18",               // optional: the object judged
//	    "status":   "fail",                  // pass, fail, not_evaluable, not_applicable, attested, excepted
//	    "message":  "...",
//	    "missing":  ["..."],                 // not_evaluable: the evidence that would be needed
//	    "evidence": [{"kind": "identity", "id": "tech-18", "detail": "mfa.enforced=false",
//	                  "pos": {"file": "examples/harbourview/identities.yaml", "line": 225, "col": 5}}],
//	    "remediation": "...",
//	    "attestation": {"control", "subject", "by", "date", "expires", "note"},  // attested
//	    "exception":   {"control", "subject", "owner", "reason", "expires"}      // excepted (or expired)
//	  }],
//	  "scores": [{                           // the MSP first, then tenants worst first
//	    "subject": "msp", "name": "...", "score": 41.2,  // 0..100, severity-weighted
//	    "pass": 20, "fail": 5, "other": 4
//	  }]
//	}
//
// Fields are only ever added within a version; consumers should ignore
// fields they do not know. Results are in engine order (by subject, then
// catalog order); the other formats sort them by status, severity, control,
// subject and object.
package report
