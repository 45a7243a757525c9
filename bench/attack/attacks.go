package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"

	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to count stored events after kill -9
)

func attacks() []attack {
	return []attack{
		{"login-lockout", attackLockout},
		{"login-lockout-other-address", attackLockoutOtherAddress},
		{"second-factor-after-lockout", attackSecondFactorAfterLockout},
		{"login-rate-limit", attackLoginRate},
		{"totp-replay", attackTOTPReplay},
		{"csrf", attackCSRF},
		{"tenant-viewer-walk", attackViewerWalk},
		{"payloads", attackPayloads},
		{"oversized-body", attackOversized},
		{"nested-body", attackNested},
		{"gzip-bomb", attackGzipBomb},
		{"estate-validate-read", attackValidateRead},
		{"heavy-read-token", attackHeavyReadToken},
		{"weak-password", attackWeakPassword},
		{"bootstrap-password", attackBootstrapPassword},
		{"failed-login-username", attackFailedUsername},
		{"data-file-modes", attackFileModes},
		{"policy-network", attackPolicyNetwork},
		{"future-event-token", attackFutureToken},
		{"future-event-syslog", attackFutureSyslog},
		{"future-event-within-skew", attackFutureWithinSkew},
		{"backfill", attackBackfill},
		{"slowloris", attackSlowloris},
		{"syslog-idle-flood", attackSyslogFlood},
		{"kill9-ingest", attackKill9},
		{"restart-keeps-window", attackRestartWindow},
	}
}

// fixture is a served instance with the accounts and tokens most attacks
// use: the owner, a tenant viewer of cedar-law, tokens bound to cedar-law
// and riverside-clinic.
type fixture struct {
	in          *instance
	admin       *session
	adminSecret string
	viewer      *session
	tokA, tokB  string // read + events:write, bound to cedar-law / riverside-clinic
	tokRead     string // read, bound to cedar-law
	tokHeavy    string // read + read:heavy, bound to cedar-law
	tenants     []string
	setupErr    error
}

var (
	fixMu    sync.Mutex
	fixtures = map[string]*fixture{}
)

const (
	tenantA = "cedar-law"
	tenantB = "riverside-clinic"
)

// shared returns the store's shared fixture, starting it on first use.
func shared(ctx context.Context, h *harness, kind storeKind) (*fixture, error) {
	fixMu.Lock()
	defer fixMu.Unlock()
	if f := fixtures[kind.name]; f != nil {
		return f, f.setupErr
	}
	f := &fixture{}
	fixtures[kind.name] = f
	f.setupErr = f.setup(ctx, h, kind)
	return f, f.setupErr
}

func (f *fixture) setup(ctx context.Context, h *harness, kind storeKind) error {
	in, err := h.newInstance(ctx, kind, "")
	if err != nil {
		return err
	}
	if err := in.start(ctx); err != nil {
		return err
	}
	f.in = in
	if f.admin, f.adminSecret, err = in.signInOwner(); err != nil {
		return err
	}
	if f.tokA, err = f.admin.token("attack-a", tenantA, "read", "events:write"); err != nil {
		return err
	}
	if f.tokB, err = f.admin.token("attack-b", tenantB, "read", "events:write"); err != nil {
		return err
	}
	if f.tokRead, err = f.admin.token("attack-read", tenantA, "read"); err != nil {
		return err
	}
	if f.tokHeavy, err = f.admin.token("attack-read-heavy", tenantA, "read", "read:heavy"); err != nil {
		return err
	}
	pw, err := f.admin.user("viewer", "tenant_viewer", tenantA)
	if err != nil {
		return err
	}
	if f.viewer, err = in.signInNew("viewer", pw); err != nil {
		return fmt.Errorf("viewer: %w", err)
	}
	st, b, err := f.admin.api("GET", "/api/v1/tenants", nil)
	if err != nil {
		return err
	}
	var ts struct{ Tenants []struct{ ID string } }
	if st != 200 || json.Unmarshal(b, &ts) != nil || len(ts.Tenants) < 3 {
		return fmt.Errorf("listing tenants: status %d", st)
	}
	for _, t := range ts.Tenants {
		f.tenants = append(f.tenants, t.ID)
	}
	return nil
}

// signInOwner signs in as the bootstrap owner. When the server requires
// the one-time password to be changed first, it is changed to a strong one.
func (in *instance) signInOwner() (*session, string, error) {
	s, secret, _, err := in.signIn("admin", in.ownerPW, "")
	if err != nil {
		return nil, "", fmt.Errorf("owner: %w", err)
	}
	if err := s.changeIfRequired(&in.ownerPW); err != nil {
		return nil, "", err
	}
	return s, secret, nil
}

// signInNew signs in a user with a one-time password, enrolling TOTP and
// changing the password if the server requires it.
func (in *instance) signInNew(user, pw string) (*session, error) {
	s, _, _, err := in.signIn(user, pw, "")
	if err != nil {
		return nil, err
	}
	return s, s.changeIfRequired(&pw)
}

// changeIfRequired changes a one-time password when the dashboard sends
// the user to the account page first.
func (s *session) changeIfRequired(pw *string) error {
	st, loc, _, err := get(s.c, s.in.base+"/")
	if err != nil {
		return err
	}
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/account") {
		return nil
	}
	nw := "velvet harbour quietly ninety lamps " + fmt.Sprint(time.Now().UnixNano()%1000)
	st, _, _, err = postForm(s.c, s.in.base+"/account/password", url.Values{"csrf": {s.csrf}, "current": {*pw}, "new": {nw}, "again": {nw}})
	if err != nil {
		return err
	}
	if st != http.StatusSeeOther {
		return fmt.Errorf("changing the one-time password: status %d", st)
	}
	*pw = nw
	return s.refreshCSRF()
}

// fresh starts an instance of its own, signed in as the owner with the two
// tenant-bound ingest tokens; for attacks that change global state.
func fresh(ctx context.Context, h *harness, kind storeKind, extra string) (*fixture, error) {
	in, err := h.newInstance(ctx, kind, extra)
	if err != nil {
		return nil, err
	}
	if err := in.start(ctx); err != nil {
		return nil, err
	}
	f := &fixture{in: in}
	if f.admin, f.adminSecret, err = in.signInOwner(); err != nil {
		return nil, err
	}
	if f.tokA, err = f.admin.token("attack-a", tenantA, "read", "events:write"); err != nil {
		return nil, err
	}
	if f.tokB, err = f.admin.token("attack-b", tenantB, "read", "events:write"); err != nil {
		return nil, err
	}
	return f, nil
}

// winFailures returns n Windows 4625 lines (winlogbeat JSON) for one
// account from ip, one second apart from start, for tenant's domain
// controller: a brute force of that account once n reaches the pack's
// threshold (10 in 10 minutes).
func winFailures(n int, start time.Time, ip, tenant, user string) []byte {
	var b bytes.Buffer
	for i := range n {
		ts := start.Add(time.Duration(i) * time.Second).UTC().Format(time.RFC3339Nano)
		fmt.Fprintf(&b, `{"@timestamp":%q,"event":{"code":"4625","outcome":"failure","provider":"Microsoft-Windows-Security-Auditing"},"winlog":{"event_id":4625,"channel":"Security","event_data":{"TargetUserName":%q,"IpAddress":%q,"LogonType":"3","SubStatus":"0xc000006a"}},"host":{"name":"dc01.%s.example"}}`+"\n",
			ts, user, ip, tenant)
	}
	return b.Bytes()
}

// ingest posts body with token and returns the status and response body.
func (f *fixture) ingest(tok string, body []byte, query string) (int, string, error) {
	st, b, err := f.in.bearer(tok, "POST", "/api/v1/events"+query, "application/x-ndjson", bytes.NewReader(body))
	return st, string(b), err
}

// incidentFor waits up to d for an incident whose JSON mentions ip.
func (f *fixture) incidentFor(ip string, d time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		st, b, err := f.admin.api("GET", "/api/v1/incidents?limit=1000", nil)
		if err != nil {
			return false, err
		}
		if st != 200 {
			return false, fmt.Errorf("listing incidents: status %d", st)
		}
		if bytes.Contains(b, []byte(`"`+ip+`"`)) {
			return true, nil
		}
		if time.Now().After(deadline) {
			if verbose {
				fmt.Printf("      incidents: %.2000s\n", b)
			}
			return false, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// --- sign-in ---------------------------------------------------------------

func attackLockout(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	pw, err := f.admin.user("victim", "analyst", "")
	if err != nil {
		return "", err
	}
	for i := range 6 {
		if _, st, _, err := f.in.passwordStep("victim", fmt.Sprintf("wrong-guess-%d", i)); err != nil {
			return "", err
		} else if st == http.StatusSeeOther {
			return fmt.Sprintf("wrong password %d signed in", i), nil
		}
	}
	_, st, loc, err := f.in.passwordStep("victim", pw)
	if err != nil {
		return "", err
	}
	if st == http.StatusSeeOther {
		return fmt.Sprintf("the right password after 6 failures still signs in (to %s): no lockout", loc), nil
	}
	return "", nil
}

// attackLockoutOtherAddress: wrong passwords from one address must not lock
// the account's user out from another, nor end the session they hold.
func attackLockoutOtherAddress(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	pw, err := f.admin.user("victim2", "analyst", "")
	if err != nil {
		return "", err
	}
	s, _, _, err := f.in.signIn("victim2", pw, "")
	if err != nil {
		return "", err
	}
	if err := s.changeIfRequired(&pw); err != nil {
		return "", err
	}
	for i := range 8 {
		if _, st, _, err := f.in.passwordStepWith(f.in.clientFrom("127.0.0.3"), "victim2", fmt.Sprintf("wrong-guess-%d", i)); err != nil {
			return "", err
		} else if st == http.StatusSeeOther {
			return fmt.Sprintf("wrong password %d signed in", i), nil
		}
	}
	if st, _, _, err := get(s.c, f.in.base+"/api/v1/me"); err != nil {
		return "", err
	} else if st != http.StatusOK {
		return fmt.Sprintf("someone's wrong passwords ended the user's session (%d)", st), nil
	}
	_, st, _, err := f.in.passwordStep("victim2", pw)
	if err != nil {
		return "", err
	}
	if st != http.StatusSeeOther {
		return fmt.Sprintf("8 wrong passwords from 127.0.0.3 lock the user out from 127.0.0.1 (%d)", st), nil
	}
	return "", nil
}

// attackSecondFactorAfterLockout: a password-step session opened before its
// address was locked out of the account (a credential-stuffing run from the
// same address) must not finish with the second factor afterwards.
func attackSecondFactorAfterLockout(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	pw, err := f.admin.user("lockstep", "analyst", "")
	if err != nil {
		return "", err
	}
	s, secret, _, err := f.in.signIn("lockstep", pw, "")
	if err != nil {
		return "", err
	}
	if err := s.changeIfRequired(&pw); err != nil {
		return "", err
	}
	c, st, _, err := f.in.passwordStepWith(f.in.clientFrom("127.0.0.5"), "lockstep", pw)
	if err != nil || st != http.StatusSeeOther {
		return "", fmt.Errorf("password step from 127.0.0.5: %d %v", st, err)
	}
	for i := range 8 {
		if _, _, _, err := f.in.passwordStepWith(f.in.clientFrom("127.0.0.5"), "lockstep", fmt.Sprintf("wrong-guess-%d", i)); err != nil {
			return "", err
		}
	}
	_, _, page, err := get(c, f.in.base+"/login/totp")
	if err != nil {
		return "", err
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		return "", nil // the locked-out session was ended: nothing to submit
	}
	st, loc, _, err := postForm(c, f.in.base+"/login/totp", url.Values{"csrf": {m[1]}, "code": {totp(secret, time.Now().Add(30*time.Second))}})
	if err != nil {
		return "", err
	}
	if st == http.StatusSeeOther && loc == "/" {
		return "a password-step session finished with the right code after its address was locked out", nil
	}
	return "", nil
}

func attackLoginRate(ctx context.Context, h *harness, kind storeKind) (string, error) {
	// An instance of its own: the attack uses up its address's budget.
	in, err := h.newInstance(ctx, kind, "")
	if err != nil {
		return "", err
	}
	if err := in.start(ctx); err != nil {
		return "", err
	}
	defer in.stop()
	f := &fixture{in: in}
	// 40 a minute per address are configured; 60 guesses for accounts that
	// do not exist must meet 429 before the end. They are sent 20 at a time
	// so they arrive within the minute however slow each password hash is
	// on a loaded machine (one after another at 2 s each, the window never
	// fills: the attack would test the machine's speed, not the limit).
	var limited atomic.Bool
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for i := range 60 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, st, _, err := f.in.passwordStep(fmt.Sprintf("nobody%d", i), "guess-guess-guess")
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if st == http.StatusTooManyRequests {
				limited.Store(true)
			}
		}()
	}
	wg.Wait()
	if limited.Load() {
		return "", nil
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "60 sign-in attempts from one address within a minute were never rate-limited", nil
}

func attackTOTPReplay(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	// Sign in the viewer's twin, then replay its code in a second sign-in.
	pw, err := f.admin.user("replay", "analyst", "")
	if err != nil {
		return "", err
	}
	s, secret, code, err := f.in.signIn("replay", pw, "")
	if err != nil {
		return "", err
	}
	if err := s.changeIfRequired(&pw); err != nil {
		return "", err
	}
	c, st, _, err := f.in.passwordStep("replay", pw)
	if err != nil || st != http.StatusSeeOther {
		return "", fmt.Errorf("second password step: %d %v", st, err)
	}
	_, _, page, err := get(c, f.in.base+"/login/totp")
	if err != nil {
		return "", err
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		return "", fmt.Errorf("no CSRF token on the TOTP page")
	}
	_ = secret
	st, loc, _, err := postForm(c, f.in.base+"/login/totp", url.Values{"csrf": {m[1]}, "code": {code}})
	if err != nil {
		return "", err
	}
	if st == http.StatusSeeOther && loc == "/" {
		return "a TOTP code already used was accepted again", nil
	}
	return "", nil
}

// --- routes ----------------------------------------------------------------

type routeDef struct{ method, pattern, access string }

var routeRE = regexp.MustCompile(`r\("(GET|POST|PUT|DELETE|PATCH)", "([^"]+)", (?:\w+\.)?([Aa]ccess\w+)`)

// routeTable reads every route from the server's route table source, so
// the walk covers routes added later without editing this file.
func routeTable(root string) ([]routeDef, error) {
	var out []routeDef
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range routeRE.FindAllStringSubmatch(string(b), -1) {
			out = append(out, routeDef{m[1], m[2], strings.ToLower(m[3])})
		}
		return nil
	})
	if err == nil && len(out) < 40 {
		err = fmt.Errorf("found only %d routes in the route table source", len(out))
	}
	return out, err
}

var paramRE = regexp.MustCompile(`\{(\w+)(\.\.\.)?\}`)

func fill(pattern string, vals map[string]string) string {
	p := strings.TrimSuffix(pattern, "{$}")
	return paramRE.ReplaceAllStringFunc(p, func(s string) string {
		name := paramRE.FindStringSubmatch(s)[1]
		if v, ok := vals[name]; ok {
			return v
		}
		return "x"
	})
}

func attackCSRF(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	routes, err := routeTable(h.root)
	if err != nil {
		return "", err
	}
	var bad []string
	n := 0
	for _, r := range routes {
		if r.method == "GET" || r.access == "accesspublic" {
			continue
		}
		n++
		u := f.in.base + fill(r.pattern, map[string]string{"id": "x", "username": "viewer", "format": "json"})
		for _, tok := range []string{"", "forged-token"} {
			req, _ := http.NewRequest(r.method, u, strings.NewReader("name=csrf"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tok != "" {
				req.Header.Set("X-CSRF-Token", tok)
			}
			resp, err := f.admin.c.Do(req)
			if err != nil {
				return "", err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				bad = append(bad, fmt.Sprintf("%s %s token=%q: %d", r.method, r.pattern, tok, resp.StatusCode))
			}
		}
	}
	// Cross-site form post to the public login route.
	st, _, _, err := postForm(f.in.client(), f.in.base+"/login", url.Values{"username": {"admin"}, "password": {"x"}})
	if err != nil {
		return "", err
	}
	if st != http.StatusForbidden {
		bad = append(bad, fmt.Sprintf("POST /login without token: %d", st))
	}
	if len(bad) > 0 {
		return fmt.Sprintf("%d of %d state-changing routes not refused: %s", len(bad), n, strings.Join(bad, "; ")), nil
	}
	notef("csrf: %d state-changing routes refused without and with a forged token", n)
	return "", nil
}

func attackViewerWalk(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	routes, err := routeTable(h.root)
	if err != nil {
		return "", err
	}
	// Other tenants' ids must appear nowhere the viewer can read, whatever
	// id the URL names. Events of tenant B make the check bite.
	if st, b, err := f.ingest(f.tokB, winFailures(3, time.Now().Add(-time.Minute), "198.51.100.200", tenantB, "walk"), ""); err != nil || st >= 300 {
		return "", fmt.Errorf("seeding tenant B events: %d %s %v", st, b, err)
	}
	var others []string
	for _, t := range f.tenants {
		if t != tenantA {
			others = append(others, t)
		}
	}
	var bad []string
	n := 0
	for _, r := range routes {
		if r.method != "GET" || r.access == "accesspublic" || r.pattern == "/login/totp" {
			continue
		}
		for _, id := range []string{tenantA, tenantB} {
			for _, who := range []string{"viewer", "token"} {
				n++
				u := f.in.base + fill(r.pattern, map[string]string{"id": id, "username": "admin", "format": "json"})
				var st int
				var body string
				if who == "viewer" {
					st, _, body, err = get(f.viewer.c, u)
				} else {
					var b []byte
					st, b, err = f.in.bearer(f.tokHeavy, "GET", strings.TrimPrefix(u, f.in.base), "", nil)
					body = string(b)
				}
				if err != nil {
					return "", err
				}
				if st >= 500 {
					bad = append(bad, fmt.Sprintf("%s %s as %s: %d", r.method, r.pattern, who, st))
					continue
				}
				for _, o := range others {
					if strings.Contains(body, o) {
						bad = append(bad, fmt.Sprintf("%s (id %s) as %s shows tenant %s", r.pattern, id, who, o))
						break
					}
				}
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Sprintf("%d of %d reads leak: %s", len(bad), n, strings.Join(bad, "; ")), nil
	}
	notef("tenant-viewer-walk: %d reads (viewer and tenant token, own and other tenant ids) show no other tenant", n)
	return "", nil
}

// --- payloads --------------------------------------------------------------

const (
	xss     = `<script>alert("fb")</script>`
	xssAttr = `"><img src=x onerror=alert(1)>`
	sqli    = `' OR '1'='1'; DROP TABLE events;--`
	formula = `=HYPERLINK("http://127.0.0.1/x","y")`
)

func attackPayloads(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC().Add(-30 * time.Second).Format(time.RFC3339)
	var b bytes.Buffer
	for _, p := range []string{xss, xssAttr, sqli, formula} {
		fmt.Fprintf(&b, `{"@timestamp":%q,"event":{"code":"4625","outcome":"failure","provider":"Microsoft-Windows-Security-Auditing"},"winlog":{"event_id":4625,"channel":"Security","event_data":{"TargetUserName":%q,"IpAddress":"198.51.100.77","LogonType":"3","WorkstationName":%q}},"host":{"name":%q}}`+"\n",
			now, p, p, p)
	}
	if st, body, err := f.ingest(f.tokA, b.Bytes(), ""); err != nil || st >= 300 {
		return "", fmt.Errorf("ingesting payloads: %d %s %v", st, body, err)
	}
	var bad []string
	// Payloads in names the owner gives: a token, a notification target.
	for _, p := range []string{xss, formula} {
		if _, err := f.admin.token(p, tenantA, "read"); err != nil {
			return "", err
		}
	}
	// SQL in every search parameter: no error, no other tenant's rows.
	for _, q := range []string{"user", "source_ip", "host", "source", "outcome", "tenant"} {
		st, body, err := f.in.bearer(f.tokHeavy, "GET", "/api/v1/events?"+q+"="+url.QueryEscape(sqli), "", nil)
		if err != nil {
			return "", err
		}
		if st >= 500 || bytes.Contains(body, []byte(tenantB)) {
			bad = append(bad, fmt.Sprintf("search %s=<sql>: status %d", q, st))
		}
	}
	// Every page the owner sees must escape them.
	for _, p := range []string{"/events", "/events?user=" + url.QueryEscape(xss), "/incidents", "/settings", "/audit", "/overview", "/"} {
		st, _, body, err := get(f.admin.c, f.in.base+p)
		if err != nil {
			return "", err
		}
		if st >= 500 {
			bad = append(bad, fmt.Sprintf("GET %s: %d", p, st))
		}
		if strings.Contains(body, xss) || strings.Contains(body, "<img src=x onerror") {
			bad = append(bad, "GET "+p+" renders a payload unescaped")
		}
	}
	// CSV exports: no cell may start with a formula character.
	for _, p := range []string{"/api/v1/reports/csv"} {
		st, body, err := f.in.bearer(f.tokHeavy, "GET", p, "", nil)
		if err != nil {
			return "", err
		}
		if st >= 500 {
			bad = append(bad, fmt.Sprintf("GET %s: %d", p, st))
		}
		for _, l := range scanLines(string(body)) {
			for _, cell := range strings.Split(l, ",") {
				c := strings.TrimPrefix(cell, `"`)
				if c != "" && strings.ContainsRune("=+@", rune(c[0])) {
					bad = append(bad, "CSV cell starts with a formula: "+cell)
				}
			}
		}
	}
	if !f.in.alive() {
		bad = append(bad, "server died")
	}
	if len(bad) > 0 {
		return strings.Join(bad, "; "), nil
	}
	return "", nil
}

// --- bodies ----------------------------------------------------------------

func attackOversized(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	body := bytes.Repeat(winFailures(1, time.Now(), "198.51.100.5", tenantA, "big"), 8<<20/400)
	st, _, err := f.ingest(f.tokA, body, "")
	if err != nil && !isReset(err) {
		return "", err
	}
	if err == nil && st != http.StatusRequestEntityTooLarge {
		return fmt.Sprintf("an 8 MiB body over a 4 MiB limit got %d, want 413", st), nil
	}
	// A form over 1 MiB on a dashboard route.
	big := url.Values{"csrf": {f.admin.csrf}, "note": {strings.Repeat("a", 2<<20)}}
	st, _, _, err = postForm(f.admin.c, f.in.base+"/incidents/x", big)
	if err != nil && !isReset(err) {
		return "", err
	}
	if err == nil && st != http.StatusRequestEntityTooLarge {
		return fmt.Sprintf("a 2 MiB form got %d, want 413", st), nil
	}
	if !f.in.alive() {
		return "server died", nil
	}
	return "", nil
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe"))
}

func attackNested(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	deep := strings.Repeat("[", 500_000) + strings.Repeat("]", 500_000)
	var bad []string
	for _, p := range []string{"/api/v1/tokens", "/api/v1/users", "/api/v1/notify-targets"} {
		st, _, err := f.admin.apiRaw("POST", p, deep)
		if err != nil {
			return "", err
		}
		if st != http.StatusBadRequest && st != http.StatusRequestEntityTooLarge {
			bad = append(bad, fmt.Sprintf("%s: %d", p, st))
		}
	}
	obj := `{"a":` + strings.Repeat(`{"a":`, 200_000) + "1" + strings.Repeat("}", 200_001) + "\n"
	st, _, err := f.ingest(f.tokA, []byte(obj), "")
	if err != nil {
		return "", err
	}
	if st >= 500 {
		bad = append(bad, fmt.Sprintf("nested event line: %d", st))
	}
	if !f.in.alive() {
		bad = append(bad, "server died")
	}
	if len(bad) > 0 {
		return "nested JSON not refused: " + strings.Join(bad, "; "), nil
	}
	return "", nil
}

// apiRaw sends a raw JSON body with the session's CSRF token.
func (s *session) apiRaw(method, path, body string) (int, []byte, error) {
	req, _ := http.NewRequest(method, s.in.base+path, strings.NewReader(body))
	req.Header.Set("X-CSRF-Token", s.csrf)
	req.Header.Set("Content-Type", "application/json")
	r, err := s.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return r.StatusCode, b, nil
}

// bombGrowthMB is how much the gzip bomb may grow the server's RSS.
const bombGrowthMB = 100

// rssLimitMB is where the gzip bomb attack stops the server rather than
// let it take the shared machine's memory.
const rssLimitMB = 1500

func attackGzipBomb(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := fresh(ctx, h, kind, "")
	if err != nil {
		return "", err
	}
	defer f.in.stop()
	// About 400 KB of gzip inflating to about 1.5 million event lines.
	line := winFailures(1, time.Now().Add(-time.Hour), "198.51.100.66", tenantA, "bomb")
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	for range 1_500_000 {
		zw.Write(line)
	}
	zw.Close()
	base := f.in.rssMB()
	peak := base
	done := make(chan struct{})
	var killed atomic.Bool
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r := f.in.rssMB()
				peak = max(peak, r)
				if r > rssLimitMB {
					killed.Store(true)
					f.in.kill()
					return
				}
			}
		}
	}()
	st, _, err := f.ingest(f.tokA, gz.Bytes(), "")
	close(done)
	if killed.Load() {
		return fmt.Sprintf("%d KB of gzip drove RSS past %d MB (from %d MB); server stopped", gz.Len()>>10, rssLimitMB, base), nil
	}
	if err != nil {
		return fmt.Sprintf("request failed: %v; peak RSS %d MB", err, peak), nil
	}
	var bad []string
	if st != http.StatusRequestEntityTooLarge {
		bad = append(bad, fmt.Sprintf("status %d, want 413", st))
	}
	// The bound is 300 MB in all; an idle server already holds
	// 200-240 MB here (estate, engines), so the check is on the growth the
	// bomb causes, which a machine's baseline does not move.
	if peak-base > bombGrowthMB {
		bad = append(bad, fmt.Sprintf("RSS grew %d MB (from %d to %d MB), more than %d MB", peak-base, base, peak, bombGrowthMB))
	}
	if !f.in.alive() {
		bad = append(bad, "server died")
	}
	if len(bad) > 0 {
		return fmt.Sprintf("%d KB gzip bomb: %s", gz.Len()>>10, strings.Join(bad, ", ")), nil
	}
	notef("gzip-bomb: %d KB of gzip refused with 413; RSS %d MB before, peak %d MB", gz.Len()>>10, base, peak)
	return "", nil
}

// --- least privilege and accounts ------------------------------------------

func attackValidateRead(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	body := "tenants:\n  - id: probe\n    name: Probe\n"
	st, _, err := f.in.bearer(f.tokRead, "POST", "/api/v1/estate/validate", "application/yaml", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	if st < 400 {
		return fmt.Sprintf("a tenant's read-only token may run estate validation (%d)", st), nil
	}
	st, _, _, err = postForm(f.viewer.c, f.in.base+"/api/v1/estate/validate", url.Values{"csrf": {f.viewer.csrf}})
	if err != nil {
		return "", err
	}
	if st < 400 {
		return fmt.Sprintf("a tenant viewer may run estate validation (%d)", st), nil
	}
	return "", nil
}

// attackHeavyReadToken: a tenant's read-only token may not call the reads
// whose cost grows with the data (reports, search, blast radius, estate
// export, diffs); a token with read:heavy may, within its tenant.
func attackHeavyReadToken(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	for _, p := range []string{"/api/v1/estate", "/api/v1/blast", "/api/v1/blast/ranking", "/api/v1/reports/json", "/api/v1/reports/csv", "/api/v1/events", "/api/v1/cases", "/api/v1/estate/diff", "/api/v1/assessments/diff"} {
		st, _, err := f.in.bearer(f.tokRead, "GET", p, "", nil)
		if err != nil {
			return "", err
		}
		if st != http.StatusForbidden {
			return fmt.Sprintf("GET %s with a tenant read-only token: %d, want 403", p, st), nil
		}
		if st, _, err = f.in.bearer(f.tokHeavy, "GET", p, "", nil); err != nil {
			return "", err
		}
		if st == http.StatusForbidden || st >= 500 {
			return fmt.Sprintf("GET %s with read:heavy: %d", p, st), nil
		}
	}
	return "", nil
}

func attackWeakPassword(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	pw, err := f.admin.user("chooser", "analyst", "")
	if err != nil {
		return "", err
	}
	s, err := f.in.signInNew("chooser", pw)
	if err != nil {
		return "", err
	}
	// signInNew may have changed it already; read the current one back.
	cur := pw
	if st, _, _, _ := get(s.c, f.in.base+"/"); st == http.StatusSeeOther {
		return "", fmt.Errorf("still sent to the account page")
	}
	var accepted []string
	for _, weak := range []string{"aaaaaaaaaaaa", "password1234", "123456789012", "qwertyuiopasdfgh", "correcthorsebatterystaple", "Summer2024!!", "CompanyName2024!"} {
		st, _, _, err := postForm(s.c, f.in.base+"/account/password", url.Values{"csrf": {s.csrf}, "current": {cur}, "new": {weak}, "again": {weak}})
		if err != nil {
			return "", err
		}
		if st == http.StatusSeeOther {
			accepted = append(accepted, weak)
			cur = weak
			if err := s.refreshCSRF(); err != nil {
				return "", err
			}
		}
	}
	if len(accepted) > 0 {
		return "accepted as new passwords: " + strings.Join(accepted, ", "), nil
	}
	return "", nil
}

func attackBootstrapPassword(ctx context.Context, h *harness, kind storeKind) (string, error) {
	in, err := h.newInstance(ctx, kind, "")
	if err != nil {
		return "", err
	}
	if err := in.start(ctx); err != nil {
		return "", err
	}
	defer in.stop()
	s, _, _, err := in.signIn("admin", in.ownerPW, "")
	if err != nil {
		return "", err
	}
	st, loc, _, err := get(s.c, in.base+"/")
	if err != nil {
		return "", err
	}
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/account") {
		return fmt.Sprintf("after signing in with the printed one-time password the dashboard answers %d, not a redirect to change it", st), nil
	}
	ast, _, err := s.api("GET", "/api/v1/users", nil)
	if err != nil {
		return "", err
	}
	if ast < 400 {
		return fmt.Sprintf("the API answers %d before the one-time password is changed", ast), nil
	}
	return "", nil
}

func attackFailedUsername(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	typed := "Tr0ub4dor-3-typed-in-the-user-box"
	if _, _, _, err := f.in.passwordStep(typed, "whatever-else"); err != nil {
		return "", err
	}
	st, b, err := f.admin.api("GET", "/api/v1/audit?limit=1000", nil)
	if err != nil {
		return "", err
	}
	if st != 200 {
		return "", fmt.Errorf("reading the audit log: %d", st)
	}
	if verbose {
		fmt.Printf("      audit: %.1500s\n", b)
	}
	if bytes.Contains(b, []byte(typed)) {
		return "the text typed as an unknown username is stored verbatim in the audit log", nil
	}
	return "", nil
}

func attackFileModes(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	var bad []string
	if _, err := os.Stat(f.in.dir); os.IsNotExist(err) {
		notef("data-file-modes: no data dir was needed (%s)", kind.name)
		return "", nil
	}
	err = filepath.WalkDir(f.in.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		// Public keys (attest.pub, handed to customers to verify
		// attestations) are public by design.
		if fi.Mode().Perm()&0o077 != 0 && !strings.HasSuffix(p, ".pub") {
			bad = append(bad, fmt.Sprintf("%s %o", strings.TrimPrefix(p, f.in.dir+"/"), fi.Mode().Perm()))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(bad) > 0 {
		return "readable by others: " + strings.Join(bad, ", "), nil
	}
	return "", nil
}

func attackPolicyNetwork(ctx context.Context, h *harness, kind storeKind) (string, error) {
	dir, err := os.MkdirTemp(h.tmp, "policy-")
	if err != nil {
		return "", err
	}
	src := "package firebreak.checks.exfil\n\nresults contains {\"control\": \"EXFIL-1\", \"status\": \"pass\", \"message\": sprintf(\"%v\", [x])} if {\n  x := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1:9/\"})\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "exfil.rego"), []byte(src), 0o600); err != nil {
		return "", err
	}
	in, err := h.newInstance(ctx, kind, fmt.Sprintf("assess:\n  policy_dirs: [%q]\n", dir))
	if err != nil {
		return "", err
	}
	err = in.start(ctx)
	defer in.stop()
	if err == nil {
		return "serve started with a policy that calls http.send", nil
	}
	if !strings.Contains(err.Error(), "http.send") {
		return "", err
	}
	return "", nil
}

// --- event time --------------------------------------------------------------

// detectionSurvives checks that tenant B's brute force raises an incident
// before and after poison runs.
func detectionSurvives(ctx context.Context, h *harness, kind storeKind, what string, poison func(f *fixture) error) (string, error) {
	f, err := fresh(ctx, h, kind, "")
	if err != nil {
		return "", err
	}
	defer f.in.stop()
	// Dated from now on (within a few seconds' skew): sign-ins already moved
	// detection's clock to now.
	if st, b, err := f.ingest(f.tokB, winFailures(12, time.Now(), "198.51.100.11", tenantB, "ctl"), ""); err != nil || st >= 300 {
		return "", fmt.Errorf("control burst: %d %s %v", st, b, err)
	}
	ok, err := f.incidentFor("198.51.100.11", 20*time.Second)
	if err != nil || !ok {
		return "", fmt.Errorf("control: no incident for a plain brute force (%v)", err)
	}
	if err := poison(f); err != nil {
		return "", err
	}
	if st, b, err := f.ingest(f.tokB, winFailures(12, time.Now(), "198.51.100.12", tenantB, "after"), ""); err != nil || st >= 300 {
		return "", fmt.Errorf("second burst: %d %s %v", st, b, err)
	}
	ok, err = f.incidentFor("198.51.100.12", 20*time.Second)
	if err != nil {
		return "", err
	}
	if !ok {
		return "after " + what + ", tenant " + tenantB + "'s brute force raises no incident", nil
	}
	return "", nil
}

func attackFutureToken(ctx context.Context, h *harness, kind storeKind) (string, error) {
	return detectionSurvives(ctx, h, kind, "one 2099 event from tenant "+tenantA+"'s token", func(f *fixture) error {
		st, b, err := f.ingest(f.tokA, winFailures(1, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), "198.51.100.99", tenantA, "future"), "")
		if err != nil {
			return err
		}
		if st >= 500 {
			return fmt.Errorf("future event: %d %s", st, b)
		}
		time.Sleep(time.Second)
		return nil
	})
}

// attackFutureWithinSkew: events dated four minutes ahead (inside
// ingest.max_skew, so not quarantined) from tenant A's token and from a
// syslog peer move no other source's or tenant's detection clock.
func attackFutureWithinSkew(ctx context.Context, h *harness, kind storeKind) (string, error) {
	return detectionSurvives(ctx, h, kind, "events dated 4 minutes ahead from tenant "+tenantA+"'s token and a syslog peer", func(f *fixture) error {
		ahead := time.Now().Add(4 * time.Minute)
		st, b, err := f.ingest(f.tokA, winFailures(3, ahead, "198.51.100.97", tenantA, "ahead"), "")
		if err != nil {
			return err
		}
		if st >= 300 || !strings.Contains(b, `"quarantined":0`) {
			return fmt.Errorf("events within the skew: %d %s (want accepted, none quarantined)", st, b)
		}
		c, err := net.Dial("udp", f.in.udp)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = fmt.Fprintf(c, "<38>1 %s srv01.%s.example sshd 4242 - - Failed password for root from 198.51.100.96 port 4242 ssh2", ahead.UTC().Format(time.RFC3339), tenantA)
		time.Sleep(2 * time.Second)
		return err
	})
}

func attackFutureSyslog(ctx context.Context, h *harness, kind storeKind) (string, error) {
	return detectionSurvives(ctx, h, kind, "one unauthenticated 2099 syslog datagram", func(f *fixture) error {
		c, err := net.Dial("udp", f.in.udp)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = fmt.Fprintf(c, "<38>1 2099-01-01T00:00:00Z srv01.%s.example sshd 4242 - - Failed password for root from 198.51.100.98 port 4242 ssh2", tenantA)
		time.Sleep(2 * time.Second)
		return err
	})
}

func attackBackfill(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := fresh(ctx, h, kind, "")
	if err != nil {
		return "", err
	}
	defer f.in.stop()
	if st, b, err := f.ingest(f.tokB, winFailures(3, time.Now().Add(-time.Minute), "198.51.100.20", tenantB, "today"), ""); err != nil || st >= 300 {
		return "", fmt.Errorf("today's events: %d %s %v", st, b, err)
	}
	time.Sleep(time.Second)
	yesterday := time.Now().Add(-24 * time.Hour)
	st, b, err := f.ingest(f.tokB, winFailures(12, yesterday, "198.51.100.21", tenantB, "yday"), "")
	if err != nil || st >= 300 {
		return "", fmt.Errorf("yesterday's events: %d %s %v", st, b, err)
	}
	ok, err := f.incidentFor("198.51.100.21", 20*time.Second)
	if err != nil {
		return "", err
	}
	if !ok {
		return "yesterday's brute force posted after today's events raises no incident (response: " + strings.TrimSpace(b) + ")", nil
	}
	return "", nil
}

// --- connections -------------------------------------------------------------

func attackSlowloris(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	addr := strings.TrimPrefix(f.in.base, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 200 {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			break
		}
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n", addr)
		conns = append(conns, c)
	}
	// Keep dribbling a header byte a second; the server must still answer
	// others and drop the dribblers after its header timeout (5 s).
	start := time.Now()
	for time.Since(start) < 8*time.Second {
		for _, c := range conns {
			c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			c.Write([]byte("X"))
		}
		hc := &http.Client{Timeout: 3 * time.Second}
		r, err := hc.Get(f.in.base + "/healthz")
		if err != nil {
			return "a normal request failed during the slowloris: " + err.Error(), nil
		}
		r.Body.Close()
		time.Sleep(time.Second)
	}
	open := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			open++
		}
	}
	if open > 0 {
		return fmt.Sprintf("%d of %d header dribblers still open after 8 s", open, len(conns)), nil
	}
	return "", nil
}

// syslogPeerCap and syslogIdle are the limits the TCP syslog listener must
// keep by default: connections per peer address, and idle time.
const (
	syslogPeerCap = 16
	syslogIdle    = 30 * time.Second
)

func attackSyslogFlood(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := shared(ctx, h, kind)
	if err != nil {
		return "", err
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 200 {
		c, err := net.DialTimeout("tcp", f.in.tcp, 2*time.Second)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	countOpen := func() int {
		n := 0
		for _, c := range conns {
			c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			_, err := c.Read(make([]byte, 1))
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				n++
			}
		}
		return n
	}
	time.Sleep(time.Second)
	if n := countOpen(); n > syslogPeerCap {
		return fmt.Sprintf("%d idle connections from one address kept (cap %d)", n, syslogPeerCap), nil
	}
	time.Sleep(syslogIdle + 3*time.Second)
	if n := countOpen(); n > 0 {
		return fmt.Sprintf("%d idle connections still open after %s", n, syslogIdle+4*time.Second), nil
	}
	return "", nil
}

// --- durability --------------------------------------------------------------

func attackKill9(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := fresh(ctx, h, kind, "")
	if err != nil {
		return "", err
	}
	defer f.in.stop()
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := winFailures(500, time.Now().Add(-time.Hour), fmt.Sprintf("198.51.%d.%d", 100+c, i%250+1), tenantA, "k9")
				st, b, err := f.ingest(f.tokA, body, "")
				if err != nil || st != http.StatusOK && st != http.StatusAccepted {
					return
				}
				var resp struct{ Accepted int }
				if json.Unmarshal([]byte(b), &resp) == nil {
					acked.Add(int64(resp.Accepted))
				}
			}
		}()
	}
	time.Sleep(3 * time.Second)
	f.in.kill()
	close(stop)
	wg.Wait()
	stored, err := f.in.countEvents(ctx, "k9")
	if err != nil {
		return "", err
	}
	if acked.Load() == 0 {
		return "", fmt.Errorf("no batch was acknowledged before the kill")
	}
	if stored < acked.Load() {
		return fmt.Sprintf("%d events acknowledged before kill -9, %d stored", acked.Load(), stored), nil
	}
	// And the store opens again.
	if err := f.in.start(ctx); err != nil {
		return "restart after kill -9 failed: " + err.Error(), nil
	}
	return "", nil
}

// countEvents counts stored events of users with the given prefix, reading
// the store directly.
func (in *instance) countEvents(ctx context.Context, userPrefix string) (int64, error) {
	q := "SELECT count(*) FROM events WHERE user_name LIKE '" + userPrefix + "%'"
	var n int64
	if in.kind.database == "" {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(in.dir, "firebreak.db")+"?mode=ro")
		if err != nil {
			return 0, err
		}
		defer db.Close()
		err = db.QueryRowContext(ctx, q).Scan(&n)
		return n, err
	}
	conn, err := pgx.Connect(ctx, in.dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(ctx, q).Scan(&n)
	return n, err
}
