package collect

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

func TestStale(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		p     *estate.Provenance
		max   int
		stale bool
		age   int
	}{
		{"hand-written", nil, 30, false, 0},
		{"fresh", &estate.Provenance{Source: "dns", CollectedAt: now.Add(-48 * time.Hour)}, 30, false, 2},
		{"stale", &estate.Provenance{Source: "graph:x", CollectedAt: now.AddDate(0, 0, -45)}, 30, true, 45},
		{"default-max", &estate.Provenance{Source: "probe", CollectedAt: now.AddDate(0, 0, -31)}, 0, true, 31},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, a := Stale(tt.p, now, tt.max)
			if s != tt.stale || a != tt.age {
				t.Errorf("Stale = %v,%d want %v,%d", s, a, tt.stale, tt.age)
			}
		})
	}
}

func TestWriteFragmentRoundTrip(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	os.WriteFile(filepath.Join(dir, "provider.yaml"), []byte("provider: {id: msp, name: MSP}\ntenants:\n  - {id: t1, name: T1}\ntools:\n  - {id: x, kind: other, owner: t1}\n"), 0o644)
	exp := at.Add(24 * time.Hour)
	e := &estate.Estate{
		DomainChecks: []estate.DomainCheck{{Tenant: "t1", Domain: "t1.example", SPF: &estate.SPF{Record: "v=spf1 -all", All: "-all", Valid: true},
			DMARC: &estate.DMARC{Record: "v=DMARC1; p=reject", Policy: "reject", Pct: 100, SP: "reject"}, MTASTS: estate.Bool(false),
			Provenance: &estate.Provenance{Source: "dns:127.0.0.1:53", CollectedAt: at}}},
		Exposures: []estate.Exposure{{Object: "x", Tenant: "t1", Host: "h", Port: 443, Open: true, TLSVersion: "TLSv1.2", CertExpires: &exp, Management: true,
			Provenance: &estate.Provenance{Source: "probe", CollectedAt: at}}},
		CollectionGap: []estate.Gap{{Tenant: "t1", Evidence: "identities.mfa", Permission: "AuditLog.Read.All", At: at}},
	}
	for _, name := range []string{"dns.collected.yaml", "probe.collected.json"} {
		p, err := WriteFragment(dir, name, "dns", at, e)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if strings.HasSuffix(name, ".yaml") && !bytes.HasPrefix(b, []byte("# Collected by `firebreak collect dns` at 2026-11-27T06:00:00Z")) {
			t.Errorf("header: %.80s", b)
		}
		got, err := estate.Load(dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got.DomainChecks) != 1 || got.DomainChecks[0].DMARC.SP != "reject" || !got.Exposures[0].CertExpires.Equal(exp) ||
			!got.Exposures[0].Management || got.CollectionGap[0].Permission != "AuditLog.Read.All" ||
			!got.DomainChecks[0].Provenance.CollectedAt.Equal(at) {
			t.Errorf("%s: round trip lost data: %+v", name, got)
		}
		os.Remove(p)
	}
}
