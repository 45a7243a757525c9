package server

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/web"
)

// pageBase is what the layout needs on every page.
type pageBase struct {
	// run and runErr are latestRun of the page's scope as basePage read it
	// (read: it did), for pages that show the run itself (pageRun).
	run    *store.Run
	runErr error
	read   bool

	Title         string
	Nav           string
	User          *viewUser
	CSRF          string
	Flash         string
	OpenIncidents int
	// AsOf and AsOfRun are the latest assessment in scope (latestRun), the
	// one clock the layout states on every signed-in page.
	AsOf    time.Time
	AsOfRun int64
	// KEV states the KEV catalog the assessment used, in the words `assess`
	// and `blast` print (worker.Engines.KEV, kev.Used); "" when unknown.
	KEV string
	// Version is this build (internal/version), shown in the footer of
	// signed-in pages only: anonymous visitors do not learn it.
	Version string
	// Degraded names the parts this process depends on that are down (the
	// database, the NATS event stream), shown above every signed-in page.
	Degraded []string
}

func (p *pageBase) base() *pageBase { return p }

type pager interface{ base() *pageBase }

// viewUser is the signed-in user as the layout shows it.
type viewUser struct {
	Name       string
	Role       string
	RoleLabel  string
	Tenant     string
	TenantOnly bool
	CanAdmin   bool
	CanHandle  bool
}

type errorPage struct {
	pageBase
	Status  int
	Message string
}

var pageNames = []string{"login", "totp", "error", "overview", "tenant", "matrix", "incidents", "incident", "blast", "events", "settings", "audit", "graph", "account", "attest", "verify", "collectors", "case", "tenants"}

func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"score": assess.ScoreText, // one decimal, as the CLI and the HTML report
		"scoreClass": func(f float64) string {
			switch {
			case f >= 80:
				return "good"
			case f >= 60:
				return "warn"
			}
			return "bad"
		},
		"pct": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
		"sevClass": func(s string) string {
			switch strings.ToLower(s) {
			case "critical":
				return "crit"
			case "high":
				return "bad"
			case "medium":
				return "warn"
			}
			return "info"
		},
		"statusClass": func(s string) string {
			switch s {
			case "pass":
				return "good"
			case "fail":
				return "bad"
			case "open":
				return "bad"
			case "acknowledged":
				return "warn"
			case "resolved":
				return "good"
			}
			return "muted"
		},
		"label": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
		"join":  strings.Join,
		"add":   func(a, b int) int { return a + b },
		"int64": func(n int) int64 { return int64(n) },
		"fieldLabel": func(f string) string {
			return map[string]string{"source.ip": "source address", "user.name": "account", "workstation": "workstation", "host.name": "host", "console": "RMM console", "tenant": "whole tenant", "key": "key"}[f]
		},
		"list":      func(s ...string) []string { return s },
		"mul":       func(a, b int) int { return a * b },
		"sub":       func(a, b int) int { return a - b },
		"thousands": thousands,
		"head":      func(n int, s []string) []string { return s[:min(n, len(s))] },
		"addf":      func(a, b float64) float64 { return a + b },
	}
}

func parsePages() (map[string]*template.Template, error) {
	layout, err := fs.ReadFile(web.Templates, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("reading layout: %w", err)
	}
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		page, err := fs.ReadFile(web.Templates, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("reading template %s: %w", name, err)
		}
		t := template.New(name).Funcs(templateFuncs())
		if _, err := t.Parse(string(layout)); err != nil {
			return nil, fmt.Errorf("parsing layout: %w", err)
		}
		if _, err := t.Parse(string(page)); err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// renderStatus executes page name into a buffer (so a template error never
// leaves half a page) and writes it with status.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, data pager) {
	t := s.pages[name]
	var buf bytes.Buffer
	if data != nil {
		data.base().Version = s.version
		if b := data.base(); b.User != nil && s.node != nil {
			b.Degraded = s.node.Degraded(r.Context())
		}
	}
	if t == nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("rendering page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data pager) error {
	s.renderStatus(w, r, http.StatusOK, name, data)
	return nil
}

func staticHandler() http.Handler {
	sub, err := fs.Sub(web.Static, "static")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	fsrv := http.FileServerFS(sub)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	}))
}

// thousands writes n with thousands separators: 12345 → "12,345".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
