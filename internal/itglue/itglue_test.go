package itglue

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

const secretValue = "Sup3r-S3cret-Domain-Admin!"

// fake is an IT Glue account from the API reference: x-api-key, JSON:API
// documents paged with page[size]/page[number] and links.next, filtered
// with filter[organization_id]. Its password list carries a "password"
// attribute too, as a careless server might: it must never come out.
type fake struct {
	orgs    int
	per     int
	calls   atomic.Int64
	forbid  string // path answered 403
	useMeta bool   // page with meta.next-page instead of links.next
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if r.Header.Get("x-api-key") != "ITG.key" {
		w.WriteHeader(401)
		io.WriteString(w, `{"errors":[{"status":"401","title":"Unauthorized"}]}`)
		return
	}
	if r.URL.Path == f.forbid {
		w.WriteHeader(403)
		io.WriteString(w, `{"errors":[{"status":"403","title":"Forbidden"}]}`)
		return
	}
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("page[size]"))
	num, _ := strconv.Atoi(q.Get("page[number]"))
	org := q.Get("filter[organization_id]")
	var items []map[string]any
	switch r.URL.Path {
	case "/organizations":
		for i := 1; i <= f.orgs; i++ {
			items = append(items, map[string]any{"id": strconv.Itoa(i), "type": "organizations", "attributes": map[string]any{"name": fmt.Sprintf("Client %d", i), "organization-status-name": "Active"}})
		}
		items = append(items, map[string]any{"id": "999", "type": "organizations", "attributes": map[string]any{"name": "Old Client", "organization-status-name": "Inactive"}})
	case "/configurations":
		for i := 0; i < f.per; i++ {
			items = append(items, map[string]any{"id": org + "-" + strconv.Itoa(i), "type": "configurations", "attributes": map[string]any{"hostname": fmt.Sprintf("ORG%s-%d", org, i), "configuration-type-name": "Managed Workstation", "archived": i == 0}})
		}
	case "/contacts":
		for i := 0; i < 3; i++ {
			items = append(items, map[string]any{"id": strconv.Itoa(i), "type": "contacts", "attributes": map[string]any{"first-name": "A", "important": i == 0}})
		}
	case "/passwords":
		items = append(items, map[string]any{"id": "p1", "type": "passwords", "attributes": map[string]any{"name": "Domain Admin", "username": "CORP\\administrator", "password": secretValue, "password-category-name": "Active Directory"}})
	default:
		w.WriteHeader(404)
		return
	}
	lo, hi := min((num-1)*size, len(items)), min(num*size, len(items))
	resp := map[string]any{"data": items[lo:hi], "meta": map[string]any{"current-page": num}, "links": map[string]any{}}
	if hi < len(items) {
		u := *r.URL
		qq := u.Query()
		qq.Set("page[number]", strconv.Itoa(num+1))
		u.RawQuery = qq.Encode()
		if f.useMeta {
			resp["meta"] = map[string]any{"current-page": num, "next-page": num + 1}
		} else {
			resp["links"] = map[string]any{"next": "http://" + r.Host + u.String()}
		}
	}
	w.Header().Set("Content-Type", "application/vnd.api+json")
	json.NewEncoder(w).Encode(resp)
}

func collect(t *testing.T, f *fake) *connector.Evidence {
	t.Helper()
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := New(Config{URL: srv.URL, APIKey: connector.SecretRef{Env: "ITG"}}, connector.Env{Getenv: func(string) string { return "ITG.key" }})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := c.Collect(t.Context(), connector.Request{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Passwords() {
		if strings.Contains(fmt.Sprintf("%#v", p), secretValue) {
			t.Fatal("a password value was kept")
		}
	}
	return ev
}

func TestCollect(t *testing.T) {
	for _, meta := range []bool{false, true} {
		ev := collect(t, &fake{orgs: 3, per: 1500, useMeta: meta})
		fr := ev.Fragment
		if len(fr.Tenants) != 3 || len(fr.Assets) != 3*1499 || len(fr.Grants) != 3 {
			t.Fatalf("meta=%v: %d tenants, %d assets, %d grants", meta, len(fr.Tenants), len(fr.Assets), len(fr.Grants))
		}
		if g := fr.Grants[0]; g.Subject != "itglue" || !strings.Contains(g.Scope, "1 stored credentials (Active Directory)") {
			t.Errorf("grant %+v", g)
		}
		if r := ev.Tenants[1]; r.Counts["contacts"] != 3 || r.Counts["important_contacts"] != 1 || r.Counts["passwords"] != 1 {
			t.Errorf("run %+v", r)
		}
		b, _ := json.Marshal(ev)
		fb, _ := json.Marshal(fr)
		if strings.Contains(string(b)+string(fb), secretValue) {
			t.Error("a password value reached the evidence")
		}
		e := *fr
		e.Provider = estate.Provider{ID: "msp", Name: "MSP"}
		if err := estate.Validate(&e); err != nil {
			t.Errorf("fragment does not validate: %v", err)
		}
	}
}

func TestPasswordsForbiddenIsAGap(t *testing.T) {
	ev := collect(t, &fake{orgs: 2, per: 2, forbid: "/passwords"})
	var gaps []string
	for _, g := range ev.Fragment.CollectionGap {
		gaps = append(gaps, g.Evidence+" "+g.Reason)
	}
	if len(gaps) != 2 || !strings.Contains(gaps[0], "credentials.vault") || !strings.Contains(gaps[0], "403") || len(ev.Fragment.Assets) != 2 {
		t.Errorf("gaps %v", gaps)
	}
}

// TestBadAnswers: the bad inputs of issue 14 against the IT Glue fake — a
// 5xx HTML page for one organisation's configurations stays that
// tenant's error, truncated JSON and an HTML page answered 200 fail the
// run by name, 429 with and without Retry-After is waited out, and a
// server whose links.next keeps pointing at a page already read stops.
func TestBadAnswers(t *testing.T) {
	type fault func(w http.ResponseWriter, r *http.Request) bool // true: answered
	run := func(t *testing.T, f fault) (*connector.Evidence, *fake, error) {
		t.Helper()
		fk := &fake{orgs: 2, per: 3}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !f(w, r) {
				fk.ServeHTTP(w, r)
			}
		}))
		defer srv.Close()
		env := connector.Env{Getenv: func(string) string { return "ITG.key" },
			Retry: connector.Retry{Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}}
		c, err := New(Config{URL: srv.URL, APIKey: connector.SecretRef{Env: "ITG"}}, env)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := c.Collect(t.Context(), connector.Request{Now: time.Now()})
		return ev, fk, err
	}
	t.Run("one-org-5xx-html-isolated", func(t *testing.T) {
		ev, _, err := run(t, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/configurations" && r.URL.Query().Get("filter[organization_id]") == "2" {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				io.WriteString(w, "<html><body>Bad gateway</body></html>")
				return true
			}
			return false
		})
		if err != nil {
			t.Fatal(err)
		}
		var bad []string
		for _, tr := range ev.Tenants {
			if !tr.OK() {
				bad = append(bad, tr.Tenant+" "+strings.Join(tr.Errors, ""))
			}
		}
		if len(bad) != 1 || !strings.Contains(bad[0], "502") || len(ev.Fragment.Assets) != 2 {
			t.Errorf("failing runs %v, %d assets", bad, len(ev.Fragment.Assets))
		}
	})
	for name, body := range map[string]string{"truncated-json": `{"data":[{"id":"1","type":"organizations","attri`, "html-200": `<!DOCTYPE html><html><title>Sign in</title></html>`} {
		t.Run(name, func(t *testing.T) {
			_, _, err := run(t, func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/organizations" {
					io.WriteString(w, body)
					return true
				}
				return false
			})
			if err == nil || !strings.Contains(err.Error(), "/organizations") {
				t.Errorf("err = %v", err)
			}
		})
	}
	t.Run("429-with-and-without-retry-after", func(t *testing.T) {
		n := 0
		ev, _, err := run(t, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/organizations" && n < 2 {
				n++
				if n == 1 {
					w.Header().Set("Retry-After", "1")
				}
				w.WriteHeader(429)
				return true
			}
			return false
		})
		if err != nil || len(ev.Fragment.Tenants) != 2 || ev.Stats.Throttled != 2 {
			t.Errorf("%v, %+v", err, ev)
		}
	})
	t.Run("repeating-pages", func(t *testing.T) {
		calls := 0
		ev, _, err := run(t, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/configurations" && r.URL.Query().Get("filter[organization_id]") == "1" {
				calls++
				fmt.Fprintf(w, `{"data":[{"id":"1-1","type":"configurations","attributes":{"hostname":"H"}}],"links":{"next":"http://%s/configurations?filter%%5Borganization_id%%5D=1&page%%5Bnumber%%5D=2"}}`, r.Host)
				return true
			}
			return false
		})
		if err != nil {
			t.Fatal(err)
		}
		var msg string
		for _, tr := range ev.Tenants {
			msg += strings.Join(tr.Errors, "")
		}
		if !strings.Contains(msg, "repeats") || calls > 5 {
			t.Errorf("errors %q after %d calls", msg, calls)
		}
	})
}
