package server

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/attest"
	"github.com/firebreak-msp/firebreak/internal/audit"
	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/intake"
	"github.com/firebreak-msp/firebreak/internal/integrations"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/roles"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/useragent"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// Options configure a Server.
type Options struct {
	Config  config.Config
	Store   store.Store
	Logger  *slog.Logger     // nil: discard
	Now     func() time.Time // nil: time.Now
	Version string
	// TLS reports whether the server is reached over HTTPS (sets HSTS and
	// __Host- cookies). Run sets it from the config.
	TLS bool
	// Node is the process's parts (pipeline, worker, intake, connectors,
	// signer) composed by internal/roles for its roles; the server fronts
	// them over HTTP and composes nothing itself.
	Node *roles.Node
}

// Server is firebreak's HTTP front. Create it with New, mount Handler, or
// call Run (usually as the front of roles.Node.Run, which runs the
// background work: detection, schedules, syslog).
type Server struct {
	cfg     config.Config
	st      store.Store
	log     *slog.Logger
	now     func() time.Time
	version string
	tls     bool

	// The parts HTTP fronts, composed by internal/roles (see attach).
	node   *roles.Node
	pipe   *pipeline.Pipeline
	rules  map[string]*detect.Rule // the loaded detection rules by id and name (case pages)
	work   *worker.Worker
	intake *intake.Intake
	tools  *integrations.Runner // connectors: RMM, IT Glue, PSA, SIEM

	routes  []route
	mux     *http.ServeMux
	pages   map[string]*template.Template
	cop     *http.CrossOriginProtection
	metrics *metrics.Metrics
	sess    *auth.Sessions // sessions, bearer tokens, sign-in limits

	catalog *catalog.Catalog // for report rule text; nil when it fails to load

	// Attestations (issue 17): the signing key (nil without engines) and
	// every public key /verify accepts (the signer's first).
	signer      *attest.Key
	trusted     []*attest.Key
	verifyLimit *auth.Limiter

	oidc         *auth.OIDCClient // nil unless auth.oidc is configured
	matrixCache  viewCache        // per run id
	blasts       blastCache
	badgeMu      sync.Mutex
	badge        map[string]badgeCount   // open incidents per scope, for the nav badge
	accessCache  viewCache               // per snapshot id
	accessViews  accessViews             // blast --tenant's view per tenant, per trust graph
	headingCache viewCache               // overview heading bars, per run id
	explorer     explorerCache           // the trust-graph explorer's view per graph
	plans        planCache               // the latest blast result's fix-first plan, decoded
	detections   pipeline.DetectionCache // decoded incident details (cases on every listing)

	// estateSlots bounds estate validations and uploads running at once
	// (each parses and validates a whole estate: CPU and memory).
	estateSlots chan struct{}
	// heavy holds one semaphore per heavy route limit (cost.go); a
	// request waits up to heavyWait for a slot.
	heavy     map[string]chan struct{}
	heavyWait time.Duration

	mu    sync.RWMutex
	ready bool
}

// maxEstateJobs is how many estate validations or uploads run at once.
const maxEstateJobs = 2

// New builds a server and its routes. It starts no goroutines.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("server: no store")
	}
	if opts.Node == nil {
		return nil, errors.New("server: no parts (roles.New)")
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		estateSlots: make(chan struct{}, maxEstateJobs),
		cfg:         opts.Config,
		st:          opts.Store,
		log:         opts.Logger,
		now:         opts.Now,
		version:     opts.Version,
		tls:         opts.TLS,
	}
	s.heavy, s.heavyWait = newHeavySlots(s.estateSlots), heavyWait
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.version == "" {
		s.version = "dev"
	}
	s.metrics = opts.Node.Metrics
	sess, err := auth.NewSessions(auth.SessionsOptions{Shared: s.cfg.Split(), Config: &s.cfg.Auth, TLS: s.tls, Store: s.st, Logger: s.log, Now: s.now, Metrics: s.metrics})
	if err != nil {
		return nil, err
	}
	s.sess = sess
	s.verifyLimit = auth.NewLimiter(30, time.Minute, 10000)
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	s.cop = http.NewCrossOriginProtection()
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errStatus(http.StatusForbidden, "cross-origin request refused"))
	}))
	if cat, err := catalog.Load(); err == nil {
		s.catalog = cat
	} else {
		s.log.Warn("catalog for reports", "err", err)
	}
	if s.cfg.Auth.OIDC != nil {
		s.oidc = &auth.OIDCClient{Cfg: *s.cfg.Auth.OIDC, HTTP: useragent.Client(&http.Client{Timeout: 10 * time.Second})}
	}
	s.attach(opts.Node)
	s.routes = s.buildRoutes()
	s.mux = http.NewServeMux()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	s.mux.Handle("GET /static/", staticHandler())
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errNotFound)
	})
	return s, nil
}

// attach makes n the parts the server fronts.
func (s *Server) attach(n *roles.Node) {
	s.node = n
	s.pipe, s.work, s.intake, s.tools = n.Pipe, n.Work, n.Intake, n.Tools
	s.signer, s.trusted = n.Signer, n.Trusted
	s.rules = nil
	if eng := n.Work.Engines(); eng != nil {
		s.rules = ruleIndex(eng.Rules)
	}
	n.Work.OnChange(s.warmMatrix, s.blastChanged)
}

// Handler returns the whole HTTP handler with security middleware.
func (s *Server) Handler() http.Handler {
	return s.securityHeaders(s.cop.Handler(s.mux))
}

// Routes lists every registered method and pattern (for tests and docs).
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, 0, len(s.routes))
	for _, r := range s.routes {
		out = append(out, RouteInfo{Method: r.Method, Pattern: r.Pattern, Access: r.Access.String(), Page: !strings.HasPrefix(r.Pattern, "/api/")})
	}
	return out
}

// RouteInfo describes one route.
type RouteInfo struct {
	Method, Pattern, Access string
	Page                    bool
}

// handlerFunc is a route handler: it returns an error that the adapter
// maps to a status and a public message.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

type route struct {
	Method  string
	Pattern string
	Access  auth.Access
	Name    string // metrics label
	H       handlerFunc
}

// wrap turns a route into an http.Handler: authentication, authorisation,
// CSRF token check for cookie sessions, metrics, error mapping.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		err := s.serveRoute(sw, r, rt)
		if err != nil {
			s.fail(sw, r, err)
		}
		s.metrics.Observe(rt.Name, sw.status(), time.Since(start))
	})
}

// maxFormBody bounds the body of every route but ingest and estate
// uploads (which have their own, configured limit).
const maxFormBody = 1 << 20

func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, rt route) error {
	if err := limitBody(w, r, rt); err != nil {
		return err
	}
	p, err := s.sess.Authenticate(w, r)
	if err != nil {
		return err
	}
	if rt.Access != auth.AccessPublic {
		if p == nil {
			if !wantsJSON(r) && r.Method == http.MethodGet {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return nil
			}
			return errUnauthorized
		}
		if p.Session != nil && !p.Session.MFA && rt.Access != auth.AccessPreMFA {
			if !wantsJSON(r) && r.Method == http.MethodGet {
				http.Redirect(w, r, "/login/totp", http.StatusSeeOther)
				return nil
			}
			return errUnauthorized
		}
		if !p.Can(rt.Access) {
			return errForbidden
		}
		// A one-time password (printed at bootstrap, set by an
		// administrator) is replaced before anything else.
		if p.Session != nil && p.User != nil && p.User.MustChangePassword && rt.Access != auth.AccessPreMFA && rt.Name != "account" && rt.Name != "account_password" {
			if !wantsJSON(r) && r.Method == http.MethodGet {
				http.Redirect(w, r, "/account?change=1", http.StatusSeeOther)
				return nil
			}
			return errStatus(http.StatusForbidden, "change your one-time password first (the account page)")
		}
	}
	if rt.Access != auth.AccessPublic && uploadRoutes[rt.Name] && r.MultipartForm == nil && strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := parseUpload(r); err != nil {
			return err
		}
	}
	if p != nil && p.Session != nil && !safeMethod(r.Method) {
		if err := s.checkCSRF(r, p); err != nil {
			return err
		}
	}
	if sw, ok := w.(*statusWriter); ok {
		sw.p = p // for error pages with navigation
	}
	release, err := s.heavySlot(r.Context(), w, rt)
	if err != nil {
		return err
	}
	defer release()
	return rt.H(w, r, p)
}

// limitBody caps the request body before anything reads it and parses
// form bodies eagerly, so an oversized form is a 413 (not a silently empty
// form) and no route spools multipart files to disk: no form here is
// multipart.
func limitBody(w http.ResponseWriter, r *http.Request, rt route) error {
	switch rt.Name {
	case "api_ingest", "api_estate_upload", "api_estate_validate":
		return nil
	}
	if uploadRoutes[rt.Name] && strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		r.Body = http.MaxBytesReader(w, r.Body, maxUploadBody)
		if rt.Access != auth.AccessPublic {
			// Parsed once the caller is known to hold the route's
			// right (parseUpload): an anonymous request never has
			// 8 MiB held in memory.
			return nil
		}
		return parseUpload(r)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		return errStatus(http.StatusUnsupportedMediaType, "multipart bodies are not accepted; send a URL-encoded form or JSON")
	}
	if isForm(r) {
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return errStatus(http.StatusRequestEntityTooLarge, "request body too large")
			}
			return errBadRequest("malformed form")
		}
	}
	return nil
}

// parseUpload parses a multipart upload whole in memory (maxMemory = the
// body limit), so no part is ever spooled to disk.
func parseUpload(r *http.Request) error {
	if err := r.ParseMultipartForm(maxUploadBody); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errStatus(http.StatusRequestEntityTooLarge, "request body too large (at most 8 MiB)")
		}
		return errBadRequest("malformed multipart form")
	}
	return nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkCSRF requires the session's CSRF token in the X-CSRF-Token header or
// the "csrf" form field (synchroniser token, on top of CrossOriginProtection).
func (s *Server) checkCSRF(r *http.Request, p *auth.Principal) error {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" && isForm(r) {
		got = r.PostFormValue("csrf")
	}
	want := p.Session.CSRF.Reveal()
	if want == "" || !hmac.Equal([]byte(got), []byte(want)) {
		return errStatus(http.StatusForbidden, "missing or invalid CSRF token")
	}
	return nil
}

func isForm(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data")
}

// preLoginCSRF derives the login form's CSRF token from the anonymous
// pre-login cookie value.
func (s *Server) preLoginCSRF(cookie string) string {
	m := s.sess.MAC()
	m.Write([]byte("login-csrf:" + cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// retryAfterUnavailable is the Retry-After of a 503 (seconds).
const retryAfterUnavailable = "5"

// storeDown reports whether the store does not answer a ping within two
// seconds.
func (s *Server) storeDown(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	return s.st.Ping(ctx) != nil
}

// fail writes err as JSON for the API or an HTML error page, and logs the
// detail (never sent to the client). A failure while the database is
// away is a 503 with Retry-After, as is every other 503.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, public := classify(err)
	if status == http.StatusInternalServerError && s.storeDown(r.Context()) {
		// The database is away (restarting, network): a passing condition,
		// not a bug — say so and when to come back.
		status, public = http.StatusServiceUnavailable, "database unavailable; retry shortly"
		err = &httpError{Status: status, Public: public, Err: err}
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", retryAfterUnavailable)
	}
	var he *httpError
	body := any(apiError{Error: public, Status: status})
	if errors.As(err, &he) && he.Body != nil {
		body = he.Body
	}
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	} else {
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if sw, ok := w.(*statusWriter); ok && sw.wrote {
		return // headers already sent; nothing more to do
	}
	if wantsJSON(r) {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak"`)
		}
		writeJSON(w, status, body)
		return
	}
	base := pageBase{Title: public}
	if sw, ok := w.(*statusWriter); ok && sw.p != nil && sw.p.User != nil && (sw.p.Session == nil || sw.p.Session.MFA) {
		base = s.basePage(r.Context(), sw.p, public, "")
	}
	s.renderStatus(w, r, status, "error", &errorPage{pageBase: base, Status: status, Message: public})
}

// statusWriter records the status code for metrics and error handling.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
	p     *auth.Principal // the caller, once authenticated
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code = code
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.code = http.StatusOK
		w.wrote = true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// securityHeaders sets CSP, HSTS (on TLS), framing, sniffing and referrer
// policy on every response.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		if s.tls {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// Ready marks the server ready (for /readyz) once background work started.
func (s *Server) setReady(v bool) {
	s.mu.Lock()
	s.ready = v
	s.mu.Unlock()
}

func (s *Server) isReady() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ready
}

// audit appends an audit entry; failures are logged (the change already happened).
func (s *Server) audit(ctx context.Context, p *auth.Principal, action, target, tenant string, detail any) {
	ip := ""
	if p != nil {
		ip = p.IP
	}
	audit.Append(ctx, s.st, s.log, p.Actor(), ip, action, target, tenant, detail)
}
