// Package storetest is the conformance suite every store.Store
// implementation must pass: store/sqlite and store/postgres run it from
// their tests. It also holds the kill -9 durability harness and the event
// append benchmark shared by both.
//
// Imported only by tests.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// Harness opens fresh, empty stores for the suite.
type Harness struct {
	// Open returns a new empty store and a function running raw SQL on the
	// same database (used to tamper with the audit log the way an attacker
	// with database access would). The store is closed by the suite.
	Open func(t *testing.T) (store.Store, func(query string) error)
}

// Tenants used throughout: alpha's scope must never see bravo's data.
const (
	Alpha = "tenant-alpha"
	Bravo = "tenant-bravo"
)

// Run runs the whole conformance suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, exec func(string) error)
	}{
		{"schema", testSchema},
		{"snapshots", testSnapshots},
		{"runs", testRuns},
		{"blast", testBlast},
		{"events", testEvents},
		{"event_histogram", testEventHistogram},
		{"events_concurrent", testEventsConcurrent},
		{"auth_sources", testAuthSources},
		{"concurrent_reads", testConcurrentReads},
		{"incidents", testIncidents},
		{"users", testUsers},
		{"sessions", testSessions},
		{"tokens", testTokens},
		{"notify_targets", testTargets},
		{"audit", testAudit},
		{"audit_tamper", testAuditTamper},
		{"tenant_isolation", testIsolation},
		{"outbox", testOutbox},
		{"outbox_claims", testOutboxClaims},
		{"outbox_prune", testOutboxPrune},
		{"attest", testAttest},
		{"rate_limits", testRateLimits},
		{"remediation", testRemediation},
		{"idempotency", testIdempotency},
		{"deployment_marks", testDeploymentMarks},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, exec := h.Open(t)
			defer func() { _ = s.Close() }()
			tc.fn(t, s, exec)
		})
	}
}

// Ctx returns a context cancelled at the end of the test.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// ServiceUnavailable skips (or, with FIREBREAK_CI=1, fails) a test whose
// external service is not reachable.
func ServiceUnavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("FIREBREAK_CI") == "1" {
		t.Fatalf("%s unavailable (FIREBREAK_CI=1 requires it): %v", what, err)
	}
	t.Skipf("%s unavailable, skipping: %v (set FIREBREAK_CI=1 to fail instead)", what, err)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

// T0 is the suite's reference time.
var T0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// Event builds a test event.
func Event(tenant, user, ip string, at time.Time, outcome string) store.EventRecord {
	ev := event.Event{Timestamp: at, Category: "authentication", Action: "logon", Outcome: outcome, Reason: "bad_password",
		UserName: user, Tenant: tenant, Dataset: "entra.signin", HostName: "host-" + tenant, Code: "50126",
		Fields: map[string]string{"appDisplayName": "Office " + tenant}, File: "test.log", Line: 7, Offset: 123, Count: 1}
	if ip != "" {
		ev.SourceIP = netip.MustParseAddr(ip)
	}
	return store.EventRecord{Event: ev, Raw: fmt.Sprintf(`{"user":%q,"tenant":%q}`, user, tenant)}
}

func testSchema(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	v, err := s.SchemaVersion(ctx)
	must(t, err)
	if v < 1 {
		t.Fatalf("schema version %d, want >= 1", v)
	}
	must(t, s.Ping(ctx))
	if d := s.Dialect(); d != "sqlite" && d != "postgres" {
		t.Fatalf("dialect %q", d)
	}
}

// leak fails when v's JSON mentions tenant bravo.
func leak(t *testing.T, what string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	if strings.Contains(strings.ToLower(string(b)), "bravo") {
		t.Errorf("%s in scope %s leaks tenant bravo: %s", what, store.TenantScope(Alpha), b)
	}
}
