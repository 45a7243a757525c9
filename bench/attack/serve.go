package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// storeKind is where a served instance keeps its data.
type storeKind struct {
	name     string // "sqlite" or "postgres"
	database string // PostgreSQL URL; empty for SQLite
}

// instance is one running `firebreak serve` on loopback.
type instance struct {
	h       *harness
	kind    storeKind
	dir     string // data dir
	schema  string // PostgreSQL schema, dropped at the end
	dsn     string // PostgreSQL URL with the schema's search_path
	config  string
	base    string // http://127.0.0.1:port
	udp     string // syslog UDP address
	tcp     string // syslog TCP address
	cmd     *exec.Cmd
	waited  chan struct{}
	stderr  *lockedBuffer
	ownerPW string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(network string) (string, error) {
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer pc.Close()
		return pc.LocalAddr().String(), nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// newInstance prepares (but does not start) a server with its own data dir
// and, for PostgreSQL, its own schema. extra is YAML appended to the
// configuration.
func (h *harness) newInstance(ctx context.Context, kind storeKind, extra string) (*instance, error) {
	dir, err := os.MkdirTemp(h.tmp, kind.name+"-")
	if err != nil {
		return nil, err
	}
	in := &instance{h: h, kind: kind, dir: filepath.Join(dir, "data")}
	addr, err := freeAddr("tcp")
	if err != nil {
		return nil, err
	}
	if in.udp, err = freeAddr("udp"); err != nil {
		return nil, err
	}
	if in.tcp, err = freeAddr("tcp"); err != nil {
		return nil, err
	}
	in.base = "http://" + addr
	var db string
	if kind.database != "" {
		h.seq++
		in.schema = fmt.Sprintf("fbattack_%d_%d", os.Getpid(), h.seq)
		conn, err := pgx.Connect(ctx, kind.database)
		if err != nil {
			return nil, err
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+in.schema); err != nil {
			return nil, err
		}
		h.cleanup = append(h.cleanup, func() {
			c, err := pgx.Connect(context.Background(), kind.database)
			if err == nil {
				_, _ = c.Exec(context.Background(), "DROP SCHEMA "+in.schema+" CASCADE")
				c.Close(context.Background())
			}
		})
		sep := "?"
		if strings.Contains(kind.database, "?") {
			sep = "&"
		}
		in.dsn = kind.database + sep + "search_path=" + in.schema
		db = fmt.Sprintf("database: %q\n", in.dsn)
	}
	in.config = filepath.Join(dir, "firebreak.yaml")
	cfg := fmt.Sprintf(`listen: %q
data_dir: %q
%stls:
  disable: true
estate:
  paths: [%q]
auth:
  insecure_cookies: true
  max_failures: 5
  login_rate_per_minute: 40
ingest:
  max_body_bytes: 4194304
  syslog:
    udp: %q
    tcp: %q
    tenant: cedar-law
%s`, addr, in.dir, db, filepath.Join(h.root, "examples", "harbourview"), in.udp, in.tcp, extra)
	if err := os.WriteFile(in.config, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return in, nil
}

var ownerRE = regexp.MustCompile(`created owner "admin" with one-time password (\S+)`)

// start runs the binary and waits until /readyz answers 200.
func (in *instance) start(ctx context.Context) error {
	in.stderr = &lockedBuffer{}
	in.cmd = exec.Command(in.h.bin, "serve", "--config", in.config)
	in.cmd.Dir = in.h.root
	in.cmd.Stdout = io.Discard
	in.cmd.Stderr = in.stderr
	in.cmd.Env = append(os.Environ(), "FIREBREAK_SECRET_KEY="+strings.Repeat("ab", 32))
	if err := in.cmd.Start(); err != nil {
		return err
	}
	in.waited = make(chan struct{})
	go func() { _ = in.cmd.Wait(); close(in.waited) }()
	in.h.cleanup = append(in.h.cleanup, in.stop)
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-in.waited:
			return fmt.Errorf("serve exited: %s", lastLines(in.stderr.String(), 5))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		r, err := hc.Get(in.base + "/readyz")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				if m := ownerRE.FindStringSubmatch(in.stderr.String()); m != nil && in.ownerPW == "" {
					in.ownerPW = m[1]
				}
				return nil
			}
		}
	}
	return fmt.Errorf("serve not ready after 90 s: %s", lastLines(in.stderr.String(), 5))
}

// stop ends the server gracefully (SIGTERM, then SIGKILL).
func (in *instance) stop() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	select {
	case <-in.waited:
		return
	default:
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.waited:
	case <-time.After(20 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.waited
	}
}

// kill ends the server with SIGKILL and waits for it.
func (in *instance) kill() {
	_ = in.cmd.Process.Kill()
	<-in.waited
}

func (in *instance) alive() bool {
	select {
	case <-in.waited:
		return false
	default:
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	r, err := hc.Get(in.base + "/healthz")
	if err != nil {
		return false
	}
	r.Body.Close()
	return r.StatusCode == 200
}

// rssMB is the server's resident set size in MiB (0 when unknown).
func (in *instance) rssMB() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", in.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), "%d", &kb)
			return kb / 1024
		}
	}
	return 0
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// session is a signed-in browser: cookies and the session's CSRF token.
type session struct {
	in   *instance
	c    *http.Client
	csrf string
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	secretRE = regexp.MustCompile(`id="secret"[^>]*value="([A-Z2-7=]+)"`)
)

func (in *instance) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get fetches path and returns status, Location and body.
func get(c *http.Client, u string, hdr ...string) (int, string, string, error) {
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	return r.StatusCode, r.Header.Get("Location"), string(b), nil
}

func postForm(c *http.Client, u string, v url.Values) (int, string, string, error) {
	r, err := c.PostForm(u, v)
	if err != nil {
		return 0, "", "", err
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	return r.StatusCode, r.Header.Get("Location"), string(b), nil
}

// passwordStep signs in with a password and returns the client holding the
// pre-MFA session, with the status and Location of the answer.
func (in *instance) passwordStep(user, pw string) (*http.Client, int, string, error) {
	return in.passwordStepWith(in.client(), user, pw)
}

// clientFrom is a client whose connections leave from the loopback address
// ip (127.0.0.0/8 is all loopback on Linux): another client address.
func (in *instance) clientFrom(ip string) *http.Client {
	c := in.client()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	c.Transport = &http.Transport{DialContext: d.DialContext}
	return c
}

// passwordStepWith is passwordStep over the client c.
func (in *instance) passwordStepWith(c *http.Client, user, pw string) (*http.Client, int, string, error) {
	_, _, page, err := get(c, in.base+"/login")
	if err != nil {
		return nil, 0, "", err
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		return nil, 0, "", errors.New("no CSRF token on the login page")
	}
	st, loc, _, err := postForm(c, in.base+"/login", url.Values{"csrf": {m[1]}, "username": {user}, "password": {pw}})
	return c, st, loc, err
}

// signIn signs in with password and TOTP, enrolling TOTP when the server
// asks; secret is the user's TOTP secret (empty at first sign-in) and is
// returned with the session and the code used.
func (in *instance) signIn(user, pw, secret string) (*session, string, string, error) {
	c, st, loc, err := in.passwordStep(user, pw)
	if err != nil {
		return nil, "", "", err
	}
	if st != http.StatusSeeOther || loc != "/login/totp" {
		return nil, "", "", fmt.Errorf("password step: status %d, location %q", st, loc)
	}
	_, _, page, err := get(c, in.base+"/login/totp")
	if err != nil {
		return nil, "", "", err
	}
	if m := secretRE.FindStringSubmatch(page); m != nil {
		secret = m[1]
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil || secret == "" {
		return nil, "", "", errors.New("no CSRF token or TOTP secret on the TOTP page")
	}
	code := totp(secret, time.Now())
	st, _, _, err = postForm(c, in.base+"/login/totp", url.Values{"csrf": {m[1]}, "code": {code}})
	if err != nil {
		return nil, "", "", err
	}
	if st != http.StatusSeeOther {
		return nil, "", "", fmt.Errorf("TOTP step: status %d", st)
	}
	s := &session{in: in, c: c}
	if err := s.refreshCSRF(); err != nil {
		return nil, "", "", err
	}
	return s, secret, code, nil
}

// refreshCSRF reads the session's CSRF token from the account page.
func (s *session) refreshCSRF() error {
	_, _, page, err := get(s.c, s.in.base+"/account")
	if err != nil {
		return err
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		return errors.New("no CSRF token on the account page")
	}
	s.csrf = m[1]
	return nil
}

// api sends a JSON request with the session's CSRF token.
func (s *session) api(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.in.base+path, rd)
	req.Header.Set("X-CSRF-Token", s.csrf)
	req.Header.Set("Content-Type", "application/json")
	r, err := s.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	return r.StatusCode, b, nil
}

// token creates an API token and returns its secret.
func (s *session) token(name, tenant string, perms ...string) (string, error) {
	st, b, err := s.api("POST", "/api/v1/tokens", map[string]any{"name": name, "tenant": tenant, "permissions": perms})
	if err != nil {
		return "", err
	}
	var out struct{ Token string }
	if json.Unmarshal(b, &out) != nil || out.Token == "" {
		return "", fmt.Errorf("creating token: status %d: %s", st, b)
	}
	return out.Token, nil
}

// user creates a user and returns its one-time password.
func (s *session) user(name, role, tenant string) (string, error) {
	st, b, err := s.api("POST", "/api/v1/users", map[string]any{"username": name, "role": role, "tenant": tenant})
	if err != nil {
		return "", err
	}
	var out struct {
		Password string `json:"password"`
	}
	if json.Unmarshal(b, &out) != nil || out.Password == "" {
		return "", fmt.Errorf("creating user: status %d: %s", st, b)
	}
	return out.Password, nil
}

// bearer sends a request with an API token.
func (in *instance) bearer(tok, method, path, ctype string, body io.Reader) (int, []byte, error) {
	req, _ := http.NewRequest(method, in.base+path, body)
	req.Header.Set("Authorization", "Bearer "+tok)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	hc := &http.Client{Timeout: 60 * time.Second}
	r, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	return r.StatusCode, b, nil
}

// totp is RFC 6238 (SHA-1, 6 digits, 30 s), written here so the suite signs
// in as an authenticator app would, without the server's code.
func totp(secret string, t time.Time) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(strings.ToUpper(secret), "="))
	if err != nil {
		return "000000"
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(t.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// scanLines returns the non-empty lines of s.
func scanLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			out = append(out, t)
		}
	}
	return out
}
