package dns

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	mdns "github.com/miekg/dns"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// fixtureServer is a DNS server on 127.0.0.1 answering TXT queries from a
// map; names under servfail.test answer SERVFAIL, names under slow.test never
// answer (timeouts), unknown names answer NXDOMAIN.
type fixtureServer struct {
	addr string
	txt  map[string][][]string // fqdn → records → character-strings
	mu   sync.Mutex
	seen map[string]int
}

func startServer(t *testing.T, txt map[string][][]string) *fixtureServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fixtureServer{addr: pc.LocalAddr().String(), txt: map[string][][]string{}, seen: map[string]int{}}
	for k, v := range txt {
		fs.txt[mdns.Fqdn(k)] = v
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(fs.serve)}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return fs
}

func (fs *fixtureServer) serve(w mdns.ResponseWriter, r *mdns.Msg) {
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	fs.mu.Lock()
	fs.seen[name]++
	fs.mu.Unlock()
	m := new(mdns.Msg)
	m.SetReply(r)
	switch {
	case strings.HasSuffix(name, "slow.test."):
		return // no answer: the client times out
	case strings.HasSuffix(name, "servfail.test."):
		m.Rcode = mdns.RcodeServerFailure
	default:
		recs, ok := fs.txt[name]
		if !ok {
			m.Rcode = mdns.RcodeNameError
			break
		}
		for _, parts := range recs {
			m.Answer = append(m.Answer, &mdns.TXT{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: 300}, Txt: parts})
		}
	}
	w.WriteMsg(m)
}

func one(s string) [][]string { return [][]string{{s}} }

var fixtures = map[string][][]string{
	// good.test: everything right, SPF split across two character-strings.
	"good.test":                      {{"v=spf1 include:_spf.good.test ", "include:spf.mail.test -all"}, {"google-site-verification=abc"}},
	"_spf.good.test":                 one("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx ~all"),
	"spf.mail.test":                  one("v=spf1 include:spf2.mail.test -all"),
	"spf2.mail.test":                 one("v=spf1 ip4:198.51.100.0/24 -all"),
	"_dmarc.good.test":               one("v=DMARC1; p=reject; sp=quarantine; pct=100; rua=mailto:dmarc@good.test; adkim=s"),
	"selector1._domainkey.good.test": one("v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"),
	"selector2._domainkey.good.test": one("v=DKIM1; k=rsa; p="), // revoked
	"_mta-sts.good.test":             one("v=STSv1; id=20260101T000000;"),
	"_smtp._tls.good.test":           one("v=TLSRPTv1; rua=mailto:tls@good.test"),
	// weak.test: +all, DMARC none at 50 %.
	"weak.test":        one("v=spf1 +all"),
	"_dmarc.weak.test": one("v=DMARC1; p=none; pct=50"),
	// two.test: two SPF records, bad DMARC.
	"two.test":        {{"v=spf1 -all"}, {"v=spf1 ~all"}},
	"_dmarc.two.test": one("v=DMARC1; p=block"),
	// loop.test: include loop; redirect.test: redirect to good's policy.
	"loop.test":     one("v=spf1 include:loop2.test -all"),
	"loop2.test":    one("v=spf1 include:loop.test -all"),
	"redirect.test": one("v=spf1 redirect=_spf.good.test"),
	// missing.test: include of a domain without SPF.
	"missing.test": one("v=spf1 include:nothing.test -all"),
	// partial.test: SPF fine, DMARC lookup SERVFAILs through a CNAME-less alias.
	"partial.test": one("v=spf1 -all"),
	// nested SERVFAIL inside an include.
	"nestedfail.test": one("v=spf1 include:x.servfail.test -all"),
	// dup.test: the same include from two branches is counted twice, not a loop.
	"dup.test":   one("v=spf1 include:a.dup.test include:b.dup.test -all"),
	"a.dup.test": one("v=spf1 include:spf2.mail.test -all"),
	"b.dup.test": one("v=spf1 include:spf2.mail.test -all"),
}

func init() {
	// toomany.test: 11 includes in a chain of nested records.
	fixtures["toomany.test"] = one("v=spf1 include:n1.toomany.test mx -all")
	for i := 1; i <= 10; i++ {
		rec := fmt.Sprintf("v=spf1 include:n%d.toomany.test -all", i+1)
		if i == 10 {
			rec = "v=spf1 ip4:192.0.2.1 -all"
		}
		fixtures[fmt.Sprintf("n%d.toomany.test", i)] = one(rec)
	}
}

var now = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func TestCheck(t *testing.T) {
	fs := startServer(t, fixtures)
	c := &Checker{Server: fs.addr, Timeout: 200 * time.Millisecond, Attempts: 1, Selectors: []string{"selector1", "selector2"}, Now: func() time.Time { return now }}
	tests := []struct {
		domain string
		want   estate.DomainCheck
	}{
		{"good.test", estate.DomainCheck{
			SPF:    &estate.SPF{Record: "v=spf1 include:_spf.good.test include:spf.mail.test -all", All: "-all", LookupCount: 5, Valid: true},
			DMARC:  &estate.DMARC{Record: "v=DMARC1; p=reject; sp=quarantine; pct=100; rua=mailto:dmarc@good.test; adkim=s", Policy: "reject", SP: "quarantine", Pct: 100, RUA: "mailto:dmarc@good.test"},
			DKIM:   []estate.DKIM{{Selector: "selector1", Present: true}, {Selector: "selector2", Present: false}},
			MTASTS: estate.Bool(true), TLSRPT: estate.Bool(true),
		}},
		{"weak.test", estate.DomainCheck{
			SPF:    &estate.SPF{Record: "v=spf1 +all", All: "+all", Valid: true, Problem: "+all allows any sender"},
			DMARC:  &estate.DMARC{Record: "v=DMARC1; p=none; pct=50", Policy: "none", Pct: 50},
			DKIM:   []estate.DKIM{{Selector: "selector1"}, {Selector: "selector2"}},
			MTASTS: estate.Bool(false), TLSRPT: estate.Bool(false),
		}},
		{"two.test", estate.DomainCheck{
			SPF:    &estate.SPF{Record: "v=spf1 -all", Problem: "multiple SPF records (permerror)"},
			DMARC:  &estate.DMARC{Record: "v=DMARC1; p=block", Pct: 100, Problem: `invalid p="block"`},
			DKIM:   []estate.DKIM{{Selector: "selector1"}, {Selector: "selector2"}},
			MTASTS: estate.Bool(false), TLSRPT: estate.Bool(false),
		}},
		{"toomany.test", estate.DomainCheck{
			SPF:    &estate.SPF{Record: "v=spf1 include:n1.toomany.test mx -all", All: "-all", LookupCount: 11, Problem: "11 DNS lookups, more than 10 (permerror)"},
			DKIM:   []estate.DKIM{{Selector: "selector1"}, {Selector: "selector2"}},
			MTASTS: estate.Bool(false), TLSRPT: estate.Bool(false),
		}},
		{"loop.test", estate.DomainCheck{
			SPF:    &estate.SPF{Record: "v=spf1 include:loop2.test -all", All: "-all", LookupCount: 2, Problem: "include loop at loop.test"},
			DKIM:   []estate.DKIM{{Selector: "selector1"}, {Selector: "selector2"}},
			MTASTS: estate.Bool(false), TLSRPT: estate.Bool(false),
		}},
		{"redirect.test", estate.DomainCheck{
			SPF:    &estate.SPF{Record: "v=spf1 redirect=_spf.good.test", All: "~all", LookupCount: 3, Valid: true},
			DKIM:   []estate.DKIM{{Selector: "selector1"}, {Selector: "selector2"}},
			MTASTS: estate.Bool(false), TLSRPT: estate.Bool(false),
		}},
		{"dup.test", estate.DomainCheck{
			SPF:    &estate.SPF{Record: "v=spf1 include:a.dup.test include:b.dup.test -all", All: "-all", LookupCount: 4, Valid: true},
			DKIM:   []estate.DKIM{{Selector: "selector1"}, {Selector: "selector2"}},
			MTASTS: estate.Bool(false), TLSRPT: estate.Bool(false),
		}},
		{"missing.test", estate.DomainCheck{
			SPF:    &estate.SPF{Record: "v=spf1 include:nothing.test -all", All: "-all", LookupCount: 1, Problem: "include:nothing.test has no single SPF record (permerror)"},
			DKIM:   []estate.DKIM{{Selector: "selector1"}, {Selector: "selector2"}},
			MTASTS: estate.Bool(false), TLSRPT: estate.Bool(false),
		}},
		// NXDOMAIN: every record is missing — failing evidence, not an error.
		{"nx.test", estate.DomainCheck{
			DKIM:   []estate.DKIM{{Selector: "selector1"}, {Selector: "selector2"}},
			MTASTS: estate.Bool(false), TLSRPT: estate.Bool(false),
		}},
		// SERVFAIL: unknown, so nothing is claimed and the error is named.
		{"servfail.test", estate.DomainCheck{
			Error: "spf: servfail.test TXT: SERVFAIL; dmarc: _dmarc.servfail.test TXT: SERVFAIL; dkim selector1: selector1._domainkey.servfail.test TXT: SERVFAIL; dkim selector2: selector2._domainkey.servfail.test TXT: SERVFAIL; mta-sts: _mta-sts.servfail.test TXT: SERVFAIL; tls-rpt: _smtp._tls.servfail.test TXT: SERVFAIL",
		}},
		{"nestedfail.test", estate.DomainCheck{
			DKIM:   []estate.DKIM{{Selector: "selector1"}, {Selector: "selector2"}},
			MTASTS: estate.Bool(false), TLSRPT: estate.Bool(false),
			Error: "spf: x.servfail.test TXT: SERVFAIL",
		}},
		{"slow.test", estate.DomainCheck{
			Error: "spf: slow.test TXT: timeout; dmarc: _dmarc.slow.test TXT: timeout; dkim selector1: selector1._domainkey.slow.test TXT: timeout; dkim selector2: selector2._domainkey.slow.test TXT: timeout; mta-sts: _mta-sts.slow.test TXT: timeout; tls-rpt: _smtp._tls.slow.test TXT: timeout",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			got := c.Check(context.Background(), Target{Tenant: "t1", Domain: tt.domain})
			if got.Provenance == nil || !got.Provenance.CollectedAt.Equal(now) || got.Provenance.Source != "dns:"+fs.addr {
				t.Errorf("provenance %+v", got.Provenance)
			}
			got.Provenance = nil
			tt.want.Tenant, tt.want.Domain = "t1", tt.domain
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Check(%s) (-got +want):\n%s", tt.domain, diff)
			}
		})
	}
}

func TestCheckAllKeepsGoing(t *testing.T) {
	fs := startServer(t, fixtures)
	c := &Checker{Server: fs.addr, Timeout: 100 * time.Millisecond, Attempts: 1, Concurrency: 4}
	ts := []Target{{"a", "good.test"}, {"b", "slow.test"}, {"c", "servfail.test"}, {"d", "weak.test"}}
	var calls int
	got := c.CheckAll(context.Background(), ts, func(done, total int) { calls++ })
	if calls != 4 || got[0].SPF == nil || !got[0].SPF.Valid || got[3].SPF == nil || got[1].Error == "" || got[2].Error == "" {
		t.Fatalf("calls %d results %+v", calls, got)
	}
}

func TestTargets(t *testing.T) {
	e := &estate.Estate{Provider: estate.Provider{Domains: []string{"Harbourview-IT.example."}},
		Tenants: []estate.Tenant{{ID: "cedar-law", Domains: []string{"cedar-law.example", "cedar-law.example"}}}}
	got := Targets(e)
	want := []Target{{"msp", "harbourview-it.example"}, {"cedar-law", "cedar-law.example"}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Error(diff)
	}
}

func FuzzParseDMARC(f *testing.F) {
	f.Add("v=DMARC1; p=reject; sp=none; pct=20; rua=mailto:x@y")
	f.Add("v=DMARC1;p=")
	f.Add("v=dmarc1 ; pct=999")
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseDMARC([]string{s})
		if d != nil && (d.Pct < 0 || d.Pct > 100) {
			t.Fatalf("%q → %+v", s, d)
		}
	})
}

func FuzzSPF(f *testing.F) {
	for _, v := range fixtures {
		for _, r := range v {
			f.Add(strings.Join(r, ""))
		}
	}
	f.Add("v=spf1 -include: ~redirect= a/24 mx:x/24 exists:%{i}.x ?all")
	f.Fuzz(func(t *testing.T, rec string) {
		lookup := func(name string) ([]string, error) {
			if name == "self.test" {
				return []string{rec}, nil
			}
			return []string{"v=spf1 include:self.test -all"}, nil
		}
		spf, err := checkSPF("self.test", lookup)
		if err != nil {
			t.Fatalf("%q: %v", rec, err)
		}
		if spf != nil && spf.Valid && spf.LookupCount > MaxLookups {
			t.Fatalf("%q: valid with %d lookups", rec, spf.LookupCount)
		}
	})
}
