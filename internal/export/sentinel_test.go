package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

// sentinelFake is Entra's token endpoint and a data collection endpoint,
// built from the Logs Ingestion API overview and the client-credentials
// grant pages: the token request is a form with grant_type
// client_credentials, client_id, client_secret and scope
// https://monitor.azure.com//.default; the upload is POST
// /dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01 with
// a JSON array, at most 1 MB, answered 204.
type sentinelFake struct {
	mu       sync.Mutex
	tokens   int
	records  int
	maxBody  int
	forbid   bool
	throttle int // answer 429 (Retry-After: 3) to this many uploads first
}

func (f *sentinelFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/tenant-1/oauth2/v2.0/token":
		r.ParseForm()
		if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_id") != "app-1" || r.Form.Get("client_secret") != "s3cret" ||
			r.Form.Get("scope") != "https://monitor.azure.com//.default" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
			return
		}
		f.tokens++
		io.WriteString(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"tok-1"}`)
	case r.URL.Path == "/dataCollectionRules/dcr-0123/streams/Custom-Firebreak_CL":
		if r.URL.Query().Get("api-version") != "2023-01-01" || r.Header.Get("Authorization") != "Bearer tok-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if f.forbid {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"error":{"code":"OperationFailed","message":"The authentication token provided does not have access to ingest data for the data collection rule with immutable Id 'dcr-0123'."}}`)
			return
		}
		if f.throttle > 0 {
			f.throttle--
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		body, _ := io.ReadAll(r.Body)
		f.maxBody = max(f.maxBody, len(body))
		if len(body) > 1<<20 {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		var recs []struct {
			TimeGenerated string
			EventKind     string
			Document      map[string]any
		}
		if err := json.Unmarshal(body, &recs); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"code":"InvalidPayload","message":%q}}`, err.Error())
			return
		}
		for _, rec := range recs {
			if rec.TimeGenerated == "" || rec.EventKind != "event" || rec.Document["ecs"] == nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		}
		f.records += len(recs)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func newSentinelExporter(t *testing.T, srvURL string, clk *fakeClock) *Exporter {
	env := connector.Env{Getenv: func(string) string { return "s3cret" }, Retry: connector.Retry{Sleep: clk.Sleep, Attempts: 2}, Now: clk.Now}
	s, err := NewSentinel(SentinelConfig{TenantID: "tenant-1", ClientID: "app-1", ClientSecret: connector.SecretRef{Env: "S"},
		Endpoint: srvURL, DCR: "dcr-0123", Stream: "Custom-Firebreak_CL", Authority: srvURL}, env)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := OpenSpool(t.TempDir(), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	return NewExporter("sentinel", sp, s, Options{Retry: connector.Retry{Sleep: clk.Sleep}, Now: clk.Now})
}

func TestSentinelExport(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	fake := &sentinelFake{throttle: 1}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	x := newSentinelExporter(t, srv.URL, clk)
	for i := range 12000 { // about 3 MB: several calls
		x.Enqueue(doc(i))
	}
	st := runUntil(t, x, func(s Stats) bool { return s.Sent == 12000 })
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.records != 12000 || fake.maxBody > 1<<20 || st.Batches < 3 || fake.tokens != 1 {
		t.Errorf("records %d, largest call %d bytes, batches %d, tokens %d", fake.records, fake.maxBody, st.Batches, fake.tokens)
	}
	if !clk.Now().After(time.Unix(2, 0)) {
		t.Errorf("Retry-After not waited: clock at %v", clk.Now())
	}
}

func TestSentinelPermissions(t *testing.T) {
	t.Run("missing-role", func(t *testing.T) {
		clk := &fakeClock{now: time.Unix(0, 0)}
		srv := httptest.NewServer(&sentinelFake{forbid: true})
		defer srv.Close()
		x := newSentinelExporter(t, srv.URL, clk)
		x.Enqueue(doc(1))
		st := runUntil(t, x, func(s Stats) bool { return s.Failures >= 2 })
		if st.Sent != 0 || st.Rejected != 0 || st.Spool.PendingDocs != 1 || !strings.Contains(st.Permission, "Monitoring Metrics Publisher") {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("bad-secret", func(t *testing.T) {
		clk := &fakeClock{now: time.Unix(0, 0)}
		srv := httptest.NewServer(&sentinelFake{})
		defer srv.Close()
		env := connector.Env{Getenv: func(string) string { return "wrong" }}
		s, err := NewSentinel(SentinelConfig{TenantID: "tenant-1", ClientID: "app-1", ClientSecret: connector.SecretRef{Env: "S"},
			Endpoint: srv.URL, DCR: "dcr-0123", Stream: "Custom-Firebreak_CL", Authority: srv.URL}, env)
		if err != nil {
			t.Fatal(err)
		}
		err = s.SendBatch(context.Background(), [][]byte{doc(1)})
		var ae *connector.APIError
		if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") || !asAPI(err, &ae) || !ae.Forbidden() {
			t.Errorf("err = %v", err)
		}
		_ = clk
	})
	t.Run("config", func(t *testing.T) {
		_, err := NewSentinel(SentinelConfig{TenantID: "t"}, connector.Env{})
		if err == nil || !strings.Contains(err.Error(), "client_id is required") {
			t.Errorf("err = %v", err)
		}
	})
}

func asAPI(err error, ae **connector.APIError) bool { return errors.As(err, ae) }
