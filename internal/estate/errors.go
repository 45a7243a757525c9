package estate

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in the estate input, located at file:line:col.
type FieldError struct {
	Pos      Pos    `json:"pos"`
	Path     string `json:"path"`               // field path, e.g. grants[3].target
	Message  string `json:"message"`            // what is wrong
	Expected string `json:"expected,omitempty"` // what would have been accepted
}

func (e FieldError) String() string {
	var b strings.Builder
	if p := e.Pos.String(); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Expected != "" {
		b.WriteString(" (expected ")
		b.WriteString(e.Expected)
		b.WriteString(")")
	}
	return b.String()
}

// ValidationError lists every problem found while loading or validating an
// estate. Load returns it (wrapped) when the input is invalid; use errors.As
// to get at the individual problems.
type ValidationError struct {
	Errors []FieldError
}

// maxErrorLines bounds Error()'s text; the Errors slice is always complete.
const maxErrorLines = 50

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid estate: %d problem", len(e.Errors))
	if len(e.Errors) != 1 {
		b.WriteString("s")
	}
	for i, fe := range e.Errors {
		if i == maxErrorLines {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Errors)-i)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(fe.String())
	}
	return b.String()
}

// sortErrors orders problems by file, line, column, then text, so output is
// stable whatever order the checks ran in.
func sortErrors(errs []FieldError) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].Pos, errs[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return errs[i].String() < errs[j].String()
	})
}

// problems collects FieldErrors.
type problems struct {
	errs []FieldError
}

func (p *problems) add(pos Pos, path, msg, expected string) {
	p.errs = append(p.errs, FieldError{Pos: pos, Path: path, Message: msg, Expected: expected})
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	errs := dedupe(p.errs)
	sortErrors(errs)
	return &ValidationError{Errors: errs}
}

func dedupe(errs []FieldError) []FieldError {
	seen := make(map[FieldError]bool, len(errs))
	out := errs[:0]
	for _, e := range errs {
		if seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	return out
}
