package notify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/useragent"
)

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

func testAlert() Alert {
	return Alert{ID: "inc-42", Kind: "incident", Title: "Password spray | 5 tenants <b>", Severity: "high", Tenant: "cedar-law",
		Tenants: []string{"cedar-law", "oakfield-school"}, Rule: "distributed-spray", Summary: "203.0.113.7 tried 40 users\nacross 5 tenants",
		Count: 40, Level: 2, First: t0.Add(-10 * time.Minute), Last: t0, At: t0, URL: "https://firebreak.example/incidents/inc-42",
		Fields: map[string]string{"source.ip": "203.0.113.7", "user.name": "a=b\\c"}}
}

// noSleep records requested waits instead of sleeping.
type noSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (n *noSleep) retry(attempts int) Retry {
	return Retry{Attempts: attempts, Base: time.Second, Max: 8 * time.Second, Rand: func() float64 { return 0.5 },
		Sleep: func(ctx context.Context, d time.Duration) error {
			n.mu.Lock()
			n.waits = append(n.waits, d)
			n.mu.Unlock()
			return ctx.Err()
		}}
}

const secret = store.Secret("s3cret-signing-key-0123")

func TestWebhookSignedAndVerifiable(t *testing.T) {
	var got WebhookBody
	var verifyErr error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verifyErr = Verify(secret, body, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), t0.Add(time.Minute), 0)
		json.Unmarshal(body, &got)
		if r.Header.Get("X-Custom") != "yes" || r.Header.Get(HeaderDelivery) == "" || r.Header.Get(HeaderEvent) != "incident" || r.UserAgent() != useragent.String() {
			t.Errorf("headers: %v", r.Header)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s, err := New(store.TargetWebhook, []byte(fmt.Sprintf(`{"url":%q,"secret":%q,"headers":{"X-Custom":"yes","X-Firebreak-Signature":"forged"}}`, srv.URL, secret.Reveal())),
		Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if err := Deliver(context.Background(), s, "hook", testAlert(), Retry{}); err != nil {
		t.Fatal(err)
	}
	if verifyErr != nil {
		t.Fatalf("receiver could not verify: %v", verifyErr)
	}
	if diff := cmp.Diff(testAlert(), got.Alert); diff != "" {
		t.Errorf("alert (-want +got):\n%s", diff)
	}
	if got.Version != "1" || got.Delivery != DeliveryID(testAlert()) {
		t.Errorf("envelope: %+v", got)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"version":"1"}`)
	ts := fmt.Sprint(t0.Unix())
	sig := Sign(secret, ts, body)
	for _, tc := range []struct {
		name          string
		secret        store.Secret
		body, ts, sig string
		now           time.Time
		want          error
	}{
		{"ok", secret, string(body), ts, sig, t0, nil},
		{"ok_skew", secret, string(body), ts, sig, t0.Add(4 * time.Minute), nil},
		{"tampered_body", secret, `{"version":"2"}`, ts, sig, t0, ErrBadSignature},
		{"wrong_secret", "another-secret-0123456", string(body), ts, sig, t0, ErrBadSignature},
		{"replayed_later", secret, string(body), ts, sig, t0.Add(6 * time.Minute), ErrStale},
		{"future", secret, string(body), ts, sig, t0.Add(-6 * time.Minute), ErrStale},
		{"other_timestamp", secret, string(body), fmt.Sprint(t0.Unix() + 1), sig, t0, ErrBadSignature},
		{"garbage_ts", secret, string(body), "yesterday", sig, t0, ErrStale},
		{"no_prefix", secret, string(body), ts, strings.TrimPrefix(sig, "sha256="), t0, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, []byte(tc.body), tc.ts, tc.sig, tc.now, 0)
			if !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{}`), "1772357400", "sha256=00")
	f.Add([]byte(""), "", "")
	f.Add([]byte("x"), "-1", "sha256=")
	f.Fuzz(func(t *testing.T, body []byte, ts, sig string) {
		err := Verify(secret, body, ts, sig, t0, 0)
		if err == nil && sig != Sign(secret, ts, body) {
			t.Fatalf("accepted a wrong signature %q", sig)
		}
	})
}

func TestRetryTransientThenSuccess(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			http.Error(w, "boom", http.StatusInternalServerError)
		case 2:
			w.Header().Set("Retry-After", "5")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	s, _ := NewWebhook(WebhookConfig{URL: srv.URL, Secret: secret}, Options{})
	ns := &noSleep{}
	if err := Deliver(context.Background(), s, "hook", testAlert(), ns.retry(5)); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3", calls.Load())
	}
	// First wait: jitter 0.5 of 1s; second: Retry-After 5s beats 0.5 of 2s.
	if diff := cmp.Diff([]time.Duration{500 * time.Millisecond, 5 * time.Second}, ns.waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func TestRetryGivesUpAndReports(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	s, _ := NewWebhook(WebhookConfig{URL: srv.URL + "/hook/path-secret", Secret: secret}, Options{})
	ns := &noSleep{}
	err := Deliver(context.Background(), s, "hook", testAlert(), ns.retry(4))
	var de *DeliveryError
	if !errors.As(err, &de) || de.Attempts != 4 || calls.Load() != 4 {
		t.Fatalf("err = %v (calls %d)", err, calls.Load())
	}
	if strings.Contains(err.Error(), "path-secret") || strings.Contains(err.Error(), string(secret)) {
		t.Errorf("error leaks a secret: %v", err)
	}
	// Backoff grows and is capped: 0.5·1s, 0.5·2s, 0.5·4s.
	if diff := cmp.Diff([]time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}, ns.waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func TestPermanentFailureNotRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no such hook", http.StatusNotFound)
	}))
	defer srv.Close()
	s, _ := NewSlack(ChatConfig{URL: store.Secret(srv.URL)}, Options{})
	err := Deliver(context.Background(), s, "slack", testAlert(), (&noSleep{}).retry(5))
	var de *DeliveryError
	if !errors.As(err, &de) || de.Attempts != 1 || calls.Load() != 1 {
		t.Fatalf("err = %v, calls %d", err, calls.Load())
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", 500) }))
	defer srv.Close()
	s, _ := NewWebhook(WebhookConfig{URL: srv.URL, Secret: secret}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	r := Retry{Attempts: 10, Sleep: func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }}
	err := Deliver(ctx, s, "hook", testAlert(), r)
	var de *DeliveryError
	if !errors.As(err, &de) || de.Attempts != 1 {
		t.Fatalf("err = %v", err)
	}
}

func TestBackoffBounded(t *testing.T) {
	r := Retry{Base: time.Second, Max: 30 * time.Second, Rand: func() float64 { return 0.999 }}
	for n := 1; n < 100; n++ {
		if d := r.Backoff(n); d < 0 || d > 30*time.Second {
			t.Fatalf("Backoff(%d) = %v", n, d)
		}
	}
}

func postedJSON(t *testing.T, send func(url string) error) map[string]any {
	t.Helper()
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		json.NewDecoder(r.Body).Decode(&got)
	}))
	defer srv.Close()
	if err := send(srv.URL); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestSlackPayload(t *testing.T) {
	got := postedJSON(t, func(u string) error {
		s, err := New(store.TargetSlack, []byte(`{"url":"`+u+`"}`), Options{})
		if err != nil {
			return err
		}
		return s.Send(context.Background(), testAlert())
	})
	if got["text"] != "[HIGH] Password spray | 5 tenants &lt;b&gt;" {
		t.Errorf("text = %v", got["text"])
	}
	blocks := got["blocks"].([]any)
	if len(blocks) != 4 || blocks[0].(map[string]any)["type"] != "header" || blocks[3].(map[string]any)["type"] != "actions" {
		t.Errorf("blocks = %v", blocks)
	}
	fields := blocks[2].(map[string]any)["fields"].([]any)
	if len(fields) > 10 || fields[0].(map[string]any)["text"] != "*Severity*\nhigh" {
		t.Errorf("fields = %v", fields)
	}
}

func TestTeamsPayload(t *testing.T) {
	got := postedJSON(t, func(u string) error {
		s, err := New(store.TargetTeams, []byte(`{"url":"`+u+`"}`), Options{})
		if err != nil {
			return err
		}
		return s.Send(context.Background(), testAlert())
	})
	att := got["attachments"].([]any)[0].(map[string]any)
	card := att["content"].(map[string]any)
	if got["type"] != "message" || att["contentType"] != "application/vnd.microsoft.card.adaptive" || card["type"] != "AdaptiveCard" || card["version"] != "1.4" {
		t.Fatalf("payload = %v", got)
	}
	body := card["body"].([]any)
	if body[0].(map[string]any)["text"] != "[HIGH] Password spray | 5 tenants <b>" || body[2].(map[string]any)["type"] != "FactSet" {
		t.Errorf("card body = %v", body)
	}
	if card["actions"].([]any)[0].(map[string]any)["url"] != testAlert().URL {
		t.Errorf("actions = %v", card["actions"])
	}
}

func TestCEF(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    Alert
		want string
	}{
		{"minimal", Alert{Kind: "drift", Title: "MFA control drifted", Severity: "medium"}, `CEF:0|Firebreak|firebreak|1|drift|MFA control drifted|5|cat=drift`},
		{"escaping", Alert{Kind: "incident", Rule: `r|1\x`, Title: "a|b\nc", Severity: "critical", ID: "i=1", Summary: "line1\nline2 = x\\y",
			Fields: map[string]string{"source.ip": "not-an-ip", "user.name": "bob"}},
			`CEF:0|Firebreak|firebreak|1|r\|1\\x|a\|b c|10|externalId=i\=1 cat=incident suser=bob msg=line1\nline2 \= x\\y`},
		{"full", testAlert(), `CEF:0|Firebreak|firebreak|1|distributed-spray|Password spray \| 5 tenants <b>|8|rt=1772357400000 start=1772356800000 end=1772357400000 externalId=inc-42 cat=incident cnt=40 src=203.0.113.7 suser=a\=b\\c cs1Label=tenant cs1=cedar-law cs2Label=tenants cs2=cedar-law,oakfield-school request=https://firebreak.example/incidents/inc-42 msg=203.0.113.7 tried 40 users\nacross 5 tenants`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, CEF(tc.a, "")); diff != "" {
				t.Errorf("CEF (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzCEF(f *testing.F) {
	f.Add("title", "rule", "summary", "user")
	f.Add("a|b\\", "x=y", "l1\nl2\r", "=")
	f.Fuzz(func(t *testing.T, title, rule, summary, user string) {
		out := CEF(Alert{Title: title, Rule: rule, Summary: summary, Severity: "low", Fields: map[string]string{"user.name": user}}, "")
		if strings.ContainsAny(out, "\r\n") {
			t.Fatalf("raw line break in %q", out)
		}
		// The header splits into exactly its 7 fields + extension, and
		// unescapes back to the inputs.
		var fields []string
		var cur strings.Builder
		esc := false
		for i := 0; i < len(out); i++ {
			c := out[i]
			switch {
			case len(fields) == 7:
				cur.WriteByte(c)
			case esc:
				cur.WriteByte(c)
				esc = false
			case c == '\\':
				esc = true
			case c == '|':
				fields = append(fields, cur.String())
				cur.Reset()
			default:
				cur.WriteByte(c)
			}
		}
		oneLine := func(s string) string {
			return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(strings.ToValidUTF8(s, "\uFFFD"))
		}
		if len(fields) != 7 || fields[5] != oneLine(title) || (rule != "" && fields[4] != oneLine(rule)) {
			t.Fatalf("header of %q parsed as %q", out, fields)
		}
	})
}

func TestSyslogUDPAndTCP(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	opts := Options{Hostname: "fb host", Now: func() time.Time { return t0 }}
	want := `<131>1 2026-03-01T09:30:00.000Z fbhost firebreak - incident - CEF:0|Firebreak|firebreak|1|distributed-spray|`

	su, err := New(store.TargetSyslog, []byte(`{"address":"`+udp.LocalAddr().String()+`"}`), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := su.Send(context.Background(), testAlert()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	udp.SetDeadline(time.Now().Add(5 * time.Second))
	n, _, err := udp.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(buf[:n]), want) {
		t.Errorf("udp message = %q", buf[:n])
	}

	got := make(chan string, 1)
	go func() {
		c, err := tcp.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var size int
		fmt.Fscanf(r, "%d ", &size)
		msg := make([]byte, size)
		io.ReadFull(r, msg)
		got <- string(msg)
	}()
	st, err := New(store.TargetSyslog, []byte(`{"address":"`+tcp.Addr().String()+`","network":"tcp","facility":10}`), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(context.Background(), testAlert()); err != nil {
		t.Fatal(err)
	}
	if m := <-got; !strings.HasPrefix(m, "<83>1 ") || !strings.HasSuffix(m, "across 5 tenants") {
		t.Errorf("tcp message = %q", m)
	}
}

func TestSyslogUnreachableIsRetriedAndReported(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	s, _ := NewSyslog(SyslogConfig{Address: addr, Network: "tcp"}, Options{})
	err := Deliver(context.Background(), s, "siem", testAlert(), (&noSleep{}).retry(3))
	var de *DeliveryError
	if !errors.As(err, &de) || de.Attempts != 3 {
		t.Fatalf("err = %v", err)
	}
}

// smtpServer is a tiny SMTP server: EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT,
// DATA, QUIT. It records what it received.
type smtpServer struct {
	l         net.Listener
	tls       *tls.Config
	noTLS     bool
	mu        sync.Mutex
	auth      string
	from      string
	rcpt      []string
	data      string
	tlsActive bool
}

func newSMTPServer(t *testing.T, noTLS bool) (*smtpServer, *tls.Config) {
	hs := httptest.NewUnstartedServer(nil)
	hs.StartTLS()
	t.Cleanup(hs.Close)
	client := hs.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{l: l, tls: &tls.Config{Certificates: hs.TLS.Certificates}, noTLS: noTLS}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s, client
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 test ESMTP")
	secure := false
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		cmd, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(cmd) {
		case "EHLO":
			if !secure && !s.noTLS {
				tp.PrintfLine("250-test\r\n250-STARTTLS\r\n250 AUTH PLAIN")
			} else {
				tp.PrintfLine("250-test\r\n250 AUTH PLAIN")
			}
		case "STARTTLS":
			tp.PrintfLine("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, secure = tc, true
			tp = textproto.NewConn(tc)
			s.mu.Lock()
			s.tlsActive = true
			s.mu.Unlock()
		case "AUTH":
			b, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(arg, "PLAIN "))
			s.mu.Lock()
			s.auth = string(b)
			s.mu.Unlock()
			tp.PrintfLine("235 ok")
		case "MAIL":
			s.mu.Lock()
			s.from = arg
			s.mu.Unlock()
			tp.PrintfLine("250 ok")
		case "RCPT":
			if strings.Contains(arg, "reject") {
				tp.PrintfLine("550 no such user")
				continue
			}
			s.mu.Lock()
			s.rcpt = append(s.rcpt, arg)
			s.mu.Unlock()
			tp.PrintfLine("250 ok")
		case "DATA":
			tp.PrintfLine("354 go")
			b, _ := io.ReadAll(tp.DotReader())
			s.mu.Lock()
			s.data = string(b)
			s.mu.Unlock()
			tp.PrintfLine("250 queued")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("502 unknown")
		}
	}
}

func TestSMTPStartTLSAndAuth(t *testing.T) {
	srv, clientTLS := newSMTPServer(t, false)
	var logs bytes.Buffer
	cfg := fmt.Sprintf(`{"address":%q,"from":"firebreak <alerts@msp.example>","to":["soc@msp.example","Jane <jane@msp.example>"],"username":"alerts","password":"smtp-pass-999"}`, srv.l.Addr().String())
	s, err := New(store.TargetSMTP, []byte(cfg), Options{TLS: clientTLS, Hostname: "fb.msp.example"})
	if err != nil {
		t.Fatal(err)
	}
	d := &Dispatcher{Log: slog.New(slog.NewTextHandler(&logs, nil)), Retry: (&noSleep{}).retry(2)}
	if err := d.Send(context.Background(), []Target{{ID: "mail", Sender: s}}, testAlert()); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if !srv.tlsActive || srv.auth != "\x00alerts\x00smtp-pass-999" || srv.from != "FROM:<alerts@msp.example>" || len(srv.rcpt) != 2 {
		t.Fatalf("server saw tls=%v auth=%q from=%q rcpt=%v", srv.tlsActive, srv.auth, srv.from, srv.rcpt)
	}
	for _, want := range []string{"Subject: [firebreak] [HIGH] Password spray | 5 tenants <b> (cedar-law)\n", "To: <soc@msp.example>, \"Jane\" <jane@msp.example>\n",
		"\nSeverity: high\n", "Content-Type: text/plain; charset=utf-8\n", "\n203.0.113.7 tried 40 users\nacross 5 tenants\n"} {
		if !strings.Contains(srv.data, want) {
			t.Errorf("message lacks %q:\n%s", want, srv.data)
		}
	}
	if d.Stats.Sent.Load() != 1 || strings.Contains(logs.String(), "smtp-pass") {
		t.Errorf("stats %d, logs %q", d.Stats.Sent.Load(), logs.String())
	}
}

func TestSMTPRefusesPlaintextWhenTLSRequired(t *testing.T) {
	srv, _ := newSMTPServer(t, true)
	s, err := NewSMTP(SMTPConfig{Address: srv.l.Addr().String(), From: "a@b.example", To: []string{"c@d.example"}, Username: "u", Password: "p"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = Deliver(context.Background(), s, "mail", testAlert(), (&noSleep{}).retry(3))
	var de *DeliveryError
	if !errors.As(err, &de) || de.Attempts != 1 || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v", err)
	}
	if srv.auth != "" {
		t.Error("password sent without TLS")
	}
}

func TestSMTPRejectedRecipientIsPermanent(t *testing.T) {
	srv, clientTLS := newSMTPServer(t, false)
	s, _ := NewSMTP(SMTPConfig{Address: srv.l.Addr().String(), From: "a@b.example", To: []string{"reject@d.example"}}, Options{TLS: clientTLS})
	err := Deliver(context.Background(), s, "mail", testAlert(), (&noSleep{}).retry(3))
	var de *DeliveryError
	if !errors.As(err, &de) || de.Attempts != 1 || !strings.Contains(err.Error(), "550") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct{ kind, cfg string }{
		{store.TargetWebhook, `{"url":"https://x.example","secret":"short"}`},
		{store.TargetWebhook, `{"url":"ftp://x.example","secret":"0123456789abcdefg"}`},
		{store.TargetWebhook, `{"url":"https://x.example","secret":"0123456789abcdefg","extra":1}`},
		{store.TargetSlack, `{}`},
		{store.TargetTeams, ``},
		{store.TargetSyslog, `{"address":"nohost"}`},
		{store.TargetSyslog, `{"address":"h:514","network":"sctp"}`},
		{store.TargetSyslog, `{"address":"h:514","facility":24}`},
		{store.TargetSMTP, `{"address":"h:25","from":"a@b.example","to":[]}`},
		{store.TargetSMTP, `{"address":"h:25","from":"a@b.example","to":["c@d.example"],"username":"u","starttls":"none"}`},
		{"pager", `{}`},
	} {
		if _, err := New(tc.kind, []byte(tc.cfg), Options{}); err == nil {
			t.Errorf("New(%s, %s) accepted", tc.kind, tc.cfg)
		}
	}
}

func TestDispatcherRouting(t *testing.T) {
	var mu sync.Mutex
	var got []string
	rec := func(id string) Sender {
		return senderFunc(func(ctx context.Context, a Alert) error {
			mu.Lock()
			got = append(got, id+":"+a.Tenant+":"+strings.Join(a.Tenants, ","))
			mu.Unlock()
			if id == "broken" {
				return errors.New("unreachable")
			}
			return nil
		})
	}
	var results []string
	d := &Dispatcher{Retry: (&noSleep{}).retry(2), OnResult: func(id string, _ time.Time, err error) {
		mu.Lock()
		results = append(results, fmt.Sprintf("%s:%v", id, err != nil))
		mu.Unlock()
	}}
	targets := []Target{
		{ID: "msp", Sender: rec("msp")},
		{ID: "critical-only", MinSeverity: "critical", Sender: rec("critical-only")},
		{ID: "oakfield", Tenant: "oakfield-school", Sender: rec("oakfield")},
		{ID: "other", Tenant: "riverside-clinic", Sender: rec("other")},
		{ID: "broken", Sender: rec("broken")},
	}
	err := d.Send(context.Background(), targets, testAlert())
	var de *DeliveryError
	if !errors.As(err, &de) || de.Target != "broken" {
		t.Fatalf("err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]bool{"msp:cedar-law:cedar-law,oakfield-school": true, "oakfield:oakfield-school:oakfield-school": true, "broken:cedar-law:cedar-law,oakfield-school": true}
	seen := map[string]bool{}
	for _, g := range got {
		seen[g] = true
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if d.Stats.Sent.Load() != 2 || d.Stats.Failed.Load() != 1 || d.Stats.Attempts.Load() != 4 || len(results) != 3 {
		t.Errorf("stats sent=%d failed=%d attempts=%d results=%v", d.Stats.Sent.Load(), d.Stats.Failed.Load(), d.Stats.Attempts.Load(), results)
	}
}

type senderFunc func(ctx context.Context, a Alert) error

func (f senderFunc) Send(ctx context.Context, a Alert) error { return f(ctx, a) }
func (f senderFunc) Kind() string                            { return "func" }

// FuzzNew feeds arbitrary target configs (they arrive through the API) to
// every kind: errors are fine, panics and accepting an unusable sender are not.
func FuzzNew(f *testing.F) {
	f.Add(`{"url":"https://x.example/h","secret":"0123456789abcdefgh"}`)
	f.Add(`{"address":"siem:514","network":"tcp","facility":3}`)
	f.Add(`{"address":"smtp:587","from":"a@b.example","to":["c@d.example"],"starttls":"opportunistic"}`)
	f.Add(`{"url":null}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, cfg string) {
		for _, kind := range []string{store.TargetWebhook, store.TargetSlack, store.TargetTeams, store.TargetSyslog, store.TargetSMTP} {
			s, err := New(kind, []byte(cfg), Options{})
			if err == nil && (s == nil || s.Kind() != kind) {
				t.Fatalf("New(%s, %q) = %v without error", kind, cfg, s)
			}
		}
	})
}

func TestSyslogTLS(t *testing.T) {
	hs := httptest.NewUnstartedServer(nil)
	hs.StartTLS()
	defer hs.Close()
	clientTLS := hs.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: hs.TLS.Certificates})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var size int
		fmt.Fscanf(r, "%d ", &size)
		msg := make([]byte, size)
		io.ReadFull(r, msg)
		got <- string(msg)
	}()
	s, err := NewSyslog(SyslogConfig{Address: l.Addr().String(), Network: "tls"}, Options{TLS: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), testAlert()); err != nil {
		t.Fatal(err)
	}
	if m := <-got; !strings.Contains(m, "CEF:0|Firebreak|firebreak|") {
		t.Errorf("tls message = %q", m)
	}
	// An untrusted certificate is refused.
	go func() {
		if c, err := l.Accept(); err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	s2, _ := NewSyslog(SyslogConfig{Address: l.Addr().String(), Network: "tls"}, Options{})
	if err := s2.Send(context.Background(), testAlert()); err == nil {
		t.Error("self-signed certificate accepted without trust")
	}
}
