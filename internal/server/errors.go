package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// httpError carries a status and a public message; Err is logged, never sent.
type httpError struct {
	Status int
	Public string
	Err    error
	Body   any // optional JSON body for API responses (e.g. ingest rejections)
}

func (e *httpError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Public, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Public)
}

func (e *httpError) Unwrap() error { return e.Err }

func errStatus(status int, public string) error { return &httpError{Status: status, Public: public} }

func errBadRequest(format string, args ...any) error {
	return &httpError{Status: http.StatusBadRequest, Public: fmt.Sprintf(format, args...)}
}

// onlyParams is a list page's check of its query: a parameter it does not
// read (a misspelt or unsupported filter) is a 400 naming it and the ones
// the page reads, as a filter value it does not know is, not a page that
// silently shows every row.
func onlyParams(q url.Values, known ...string) error {
	var unknown []string
	for k := range q {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return errBadRequest("%s: not a filter of this page; expected %s", truncRunes(unknown[0], 40), strings.Join(known, ", "))
}

// truncRunes shortens s, a request's text quoted back in a message, to at
// most n runes and marks the cut with "…". It cuts between runes, never
// inside one: half a multi-byte character is invalid UTF-8 in the page.
func truncRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

// flagParam reads a checkbox filter: absent or empty is off, 1 is on,
// anything else a 400 with the reason.
func flagParam(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "":
		return false, nil
	case "1":
		return true, nil
	}
	return false, errBadRequest("%s: expected 1 (on) or nothing (off)", name)
}

var (
	errUnauthorized = &httpError{Status: http.StatusUnauthorized, Public: "authentication required"}
	errForbidden    = &httpError{Status: http.StatusForbidden, Public: "forbidden"}
	errNotFound     = &httpError{Status: http.StatusNotFound, Public: "not found"}
)

// classify maps any error to a status and a public message. Store sentinels
// map to their HTTP meaning; anything unknown is a 500 with a fixed message.
func classify(err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.Status, he.Public
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusUnauthorized, "authentication required"
	case errors.Is(err, worker.ErrNoEngine):
		return http.StatusServiceUnavailable, "assessment engine not configured"
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrForbidden):
		// Outside the scope looks exactly like absent: no existence oracle.
		return http.StatusNotFound, "not found"
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "already exists"
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, "invalid request"
	case errors.Is(err, store.ErrExpired), errors.Is(err, store.ErrRevoked):
		return http.StatusUnauthorized, "authentication required"
	default:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return http.StatusRequestEntityTooLarge, "request body too large"
		}
		return http.StatusInternalServerError, "internal error"
	}
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// apiError is the JSON error body.
type apiError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func wantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.Contains(r.Header.Get("Accept"), "application/json")
}
