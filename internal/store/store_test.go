package store

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// TestChainHashGolden pins the canonical audit encoding: changing it would
// make every existing audit log fail verification.
func TestChainHashGolden(t *testing.T) {
	e := &AuditEntry{Seq: 1, At: time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC), Actor: "alice", Action: "user.create",
		Target: "bob", Tenant: "cedar-law", IP: "192.0.2.1", Detail: json.RawMessage(`{ "role" : "analyst" }`)}
	wantCanon := "18:firebreak-audit-v1;1:1;27:2026-03-01T09:00:00.123456Z;5:alice;11:user.create;3:bob;9:cedar-law;9:192.0.2.1;18:{\"role\":\"analyst\"};"
	if got := string(e.Canonical()); got != wantCanon {
		t.Fatalf("canonical =\n%s\nwant\n%s", got, wantCanon)
	}
	const want = "bfa55ef13e016285daebda581dd43c5a4f8fae3a80dadeda8c1f96e04a614a82"
	got := ChainHash(GenesisHash, e)
	if len(got) != 64 {
		t.Fatalf("hash %q", got)
	}
	if got != want {
		t.Logf("golden hash is %s", got)
		t.Errorf("ChainHash changed: %s, want %s", got, want)
	}
	// Field boundaries cannot be shifted.
	e2 := *e
	e2.Actor, e2.Action = "aliceu", "ser.create"
	if ChainHash(GenesisHash, &e2) == got {
		t.Error("moving a character between fields kept the hash")
	}
}

func TestSecretRedacts(t *testing.T) {
	s := Secret("hunter2-very-secret")
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "s", s)
	js, _ := json.Marshal(struct{ S Secret }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s), b.String(), string(js)} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if s.Reveal() != "hunter2-very-secret" || Secret("").String() != "" {
		t.Error("Reveal/empty")
	}
}

func TestSecretBox(t *testing.T) {
	b, err := NewSecretBox([]byte("key material"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.Seal([]byte("JBSWY3DP"))
	if err != nil || !strings.HasPrefix(sealed, "v1:") || strings.Contains(sealed, "JBSWY3DP") {
		t.Fatalf("sealed %q %v", sealed, err)
	}
	if pt, err := b.Open(sealed); err != nil || string(pt) != "JBSWY3DP" {
		t.Fatalf("open: %q %v", pt, err)
	}
	other, _ := NewSecretBox([]byte("other key"))
	if _, err := other.Open(sealed); err == nil {
		t.Error("opened with the wrong key")
	}
	var none *SecretBox
	plain, _ := none.Seal([]byte("x"))
	if pt, err := b.Open(plain); err != nil || string(pt) != "x" {
		t.Errorf("plain value: %q %v", pt, err)
	}
	if _, err := none.Open(sealed); err == nil {
		t.Error("nil box opened an encrypted value")
	}
}

func TestScope(t *testing.T) {
	for _, tc := range []struct {
		s      Scope
		tenant string
		want   bool
	}{
		{AllTenants(), "a", true},
		{AllTenants(), "", true},
		{TenantScope("a"), "a", true},
		{TenantScope("a"), "b", false},
		{TenantScope("a"), "", false},
		{Scope{}, "", false},
		{Scope{}, "a", false},
		{ScopeFor(RoleAnalyst, "x"), "b", true},
		{ScopeFor(RoleTenantViewer, "a"), "b", false},
		{ScopeFor("intruder", "a"), "a", false},
	} {
		if got := tc.s.Allows(tc.tenant); got != tc.want {
			t.Errorf("%v.Allows(%q) = %v", tc.s, tc.tenant, got)
		}
	}
}

// TestEventRecordJSONIsECS: the JetStream payload (an EventRecord as JSON)
// carries the event in ECS form, and a payload written before (Go field
// names) still decodes to the same event.
func TestEventRecordJSONIsECS(t *testing.T) {
	rec := EventRecord{ID: 7, Event: event.Event{Timestamp: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), UserName: "root",
		SourceIP: netip.MustParseAddr("203.0.113.5"), Tenant: "acme", Dataset: "sshd", Outcome: "failure"}}
	b, err := json.Marshal(&rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"user":{"name":"root"}`, `"source":{"ip":"203.0.113.5"}`, `"dataset":"system.auth"`, `"ecs":{"version"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("payload lacks %s: %s", want, b)
		}
	}
	old := `{"id":7,"received":"0001-01-01T00:00:00Z","event":{"Timestamp":"2026-11-26T10:00:00Z","Category":"","Action":"","Outcome":"failure","Reason":"","Code":"","Count":0,"UserName":"root","UserDomain":"","SourceIP":"203.0.113.5","SourcePort":0,"HostName":"","Tenant":"acme","Dataset":"sshd","Fields":null,"File":"","Offset":0,"Line":0}}`
	for name, in := range map[string][]byte{"ecs": b, "legacy": []byte(old)} {
		var got EventRecord
		if err := json.Unmarshal(in, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Event.UserName != "root" || got.Event.SourceIP != rec.Event.SourceIP || got.Event.Dataset != "sshd" || !got.Event.Timestamp.Equal(rec.Event.Timestamp) || got.ID != 7 {
			t.Errorf("%s: %+v", name, got)
		}
	}
}
