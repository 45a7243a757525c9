package itglue

import (
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
