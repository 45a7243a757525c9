// Package dns collects email-domain security evidence for every tenant
// domain: SPF (parsed, with the RFC 7208 limit of 10 DNS-querying terms
// counted through nested include: and redirect=, and the all qualifier),
// DMARC (p, sp, pct, rua), DKIM for configured selectors, and the presence
// of MTA-STS (_mta-sts TXT) and TLS-RPT (_smtp._tls TXT) records.
//
// Results distinguish "no record" from "could not look up": a domain
// without an SPF or DMARC record has a nil SPF or DMARC and an empty Error
// (a failing control); a lookup error (SERVFAIL, timeout) leaves the value
// nil and fills DomainCheck.Error, so assess treats the domain as
// not-evaluable rather than failed. A present but broken record has
// Valid=false (SPF) or an empty Policy (DMARC) and Problem set.
//
// It is imported by cmd/firebreak and the server.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/firebreak-msp/firebreak/internal/collect"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// DefaultSelectors are the DKIM selectors tried when none are configured
// (Microsoft 365, Google Workspace, common defaults).
var DefaultSelectors = []string{"selector1", "selector2", "google", "default"}

// MaxLookups is RFC 7208's limit on DNS-querying SPF terms.
const MaxLookups = 10

// Checker looks up email security records through one resolver.
type Checker struct {
	// Server is the resolver, host:port. Empty: the first nameserver in
	// /etc/resolv.conf.
	Server      string
	Timeout     time.Duration // per query, default 3 s
	Attempts    int           // per query, default 2
	Selectors   []string      // default DefaultSelectors
	Concurrency int           // domains checked at once, default 16
	Now         func() time.Time
}

// Target is one domain of one tenant.
type Target struct {
	Tenant, Domain string
}

// Targets lists every tenant domain (and the provider's) in the estate.
func Targets(e *estate.Estate) []Target {
	var out []Target
	seen := map[string]bool{}
	add := func(t, d string) {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if d == "" || seen[t+"|"+d] {
			return
		}
		seen[t+"|"+d] = true
		out = append(out, Target{Tenant: t, Domain: d})
	}
	for _, d := range e.Provider.Domains {
		add(estate.MSP, d)
	}
	for _, t := range e.Tenants {
		for _, d := range t.Domains {
			add(t.ID, d)
		}
	}
	return out
}

// ErrServFail and ErrTimeout classify lookup failures.
var (
	ErrServFail = errors.New("SERVFAIL")
	ErrTimeout  = errors.New("timeout")
)

func (c *Checker) server() (string, error) {
	if c.Server != "" {
		if _, _, err := net.SplitHostPort(c.Server); err != nil {
			return net.JoinHostPort(c.Server, "53"), nil
		}
		return c.Server, nil
	}
	cfg, err := mdns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil || len(cfg.Servers) == 0 {
		return "", fmt.Errorf("no resolver configured: pass --resolver host:port")
	}
	return net.JoinHostPort(cfg.Servers[0], cfg.Port), nil
}

// txt returns the TXT strings at name (each record's character-strings
// concatenated). NXDOMAIN and NODATA return no records and no error.
func (c *Checker) txt(ctx context.Context, server, name string) ([]string, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 2
	}
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), mdns.TypeTXT)
	m.SetEdns0(4096, false)
	var lastErr error
	for range attempts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cl := &mdns.Client{Net: "udp", Timeout: timeout}
		r, _, err := cl.ExchangeContext(ctx, m, server)
		if err == nil && r.Truncated {
			cl.Net = "tcp"
			r, _, err = cl.ExchangeContext(ctx, m, server)
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				lastErr = fmt.Errorf("%s TXT: %w", name, ErrTimeout)
			} else {
				lastErr = fmt.Errorf("%s TXT: %w", name, err)
			}
			continue
		}
		switch r.Rcode {
		case mdns.RcodeSuccess, mdns.RcodeNameError:
			var out []string
			for _, rr := range r.Answer {
				if t, ok := rr.(*mdns.TXT); ok {
					out = append(out, strings.Join(t.Txt, ""))
				}
			}
			return out, nil
		case mdns.RcodeServerFailure:
			lastErr = fmt.Errorf("%s TXT: %w", name, ErrServFail)
		default:
			return nil, fmt.Errorf("%s TXT: %s", name, mdns.RcodeToString[r.Rcode])
		}
	}
	return nil, lastErr
}

// Check collects one domain. It never returns an error: failures are in
// DomainCheck.Error.
func (c *Checker) Check(ctx context.Context, t Target) estate.DomainCheck {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	dc := estate.DomainCheck{Tenant: t.Tenant, Domain: t.Domain}
	var errs []string
	server, err := c.server()
	if err != nil {
		dc.Error = err.Error()
		dc.Provenance = &estate.Provenance{Source: "dns", CollectedAt: now().UTC()}
		return dc
	}
	dc.Provenance = &estate.Provenance{Source: "dns:" + server, CollectedAt: now().UTC()}
	lookup := func(name string) ([]string, error) { return c.txt(ctx, server, name) }

	if spf, err := checkSPF(t.Domain, lookup); err != nil {
		errs = append(errs, "spf: "+err.Error())
	} else {
		dc.SPF = spf
	}
	if recs, err := lookup("_dmarc." + t.Domain); err != nil {
		errs = append(errs, "dmarc: "+err.Error())
	} else {
		dc.DMARC = ParseDMARC(recs)
	}
	sels := c.Selectors
	if len(sels) == 0 {
		sels = DefaultSelectors
	}
	for _, s := range sels {
		recs, err := lookup(s + "._domainkey." + t.Domain)
		if err != nil {
			errs = append(errs, "dkim "+s+": "+err.Error())
			continue
		}
		dc.DKIM = append(dc.DKIM, estate.DKIM{Selector: s, Present: dkimPresent(recs)})
	}
	if recs, err := lookup("_mta-sts." + t.Domain); err != nil {
		errs = append(errs, "mta-sts: "+err.Error())
	} else {
		dc.MTASTS = estate.Bool(hasPrefixFold(recs, "v=STSv1"))
	}
	if recs, err := lookup("_smtp._tls." + t.Domain); err != nil {
		errs = append(errs, "tls-rpt: "+err.Error())
	} else {
		dc.TLSRPT = estate.Bool(hasPrefixFold(recs, "v=TLSRPTv1"))
	}
	dc.Error = strings.Join(errs, "; ")
	return dc
}

// CheckAll checks every target with bounded concurrency, in target order.
func (c *Checker) CheckAll(ctx context.Context, ts []Target, progress func(done, total int)) []estate.DomainCheck {
	n := c.Concurrency
	if n <= 0 {
		n = 16
	}
	return collect.Bounded(ts, n, func(t Target) estate.DomainCheck { return c.Check(ctx, t) }, progress)
}

func hasPrefixFold(recs []string, prefix string) bool {
	for _, r := range recs {
		r = strings.TrimSpace(r)
		if len(r) >= len(prefix) && strings.EqualFold(r[:len(prefix)], prefix) &&
			(len(r) == len(prefix) || r[len(prefix)] == ';' || r[len(prefix)] == ' ') {
			return true
		}
	}
	return false
}

// dkimPresent: a DKIM key record with a non-empty p= (an empty p= is a
// revoked key).
func dkimPresent(recs []string) bool {
	for _, r := range recs {
		tags := parseTags(r)
		if p, ok := tags["p"]; ok && p != "" {
			return true
		}
	}
	return false
}

// parseTags parses "k=v; k2=v2" tag lists (DMARC, DKIM).
func parseTags(s string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, dup := out[k]; !dup {
			out[k] = strings.Join(strings.Fields(v), "")
		}
	}
	return out
}

// ParseDMARC picks the DMARC record among TXT strings and parses it; nil
// when there is none.
func ParseDMARC(recs []string) *estate.DMARC {
	var found []string
	for _, r := range recs {
		if hasPrefixFold([]string{r}, "v=DMARC1") {
			found = append(found, strings.TrimSpace(r))
		}
	}
	switch len(found) {
	case 0:
		return nil // no DMARC record
	case 1:
	default:
		return &estate.DMARC{Record: found[0], Problem: "multiple DMARC records (receivers ignore all of them)"}
	}
	tags := parseTags(found[0])
	d := &estate.DMARC{Record: found[0], Pct: 100, RUA: tags["rua"]}
	p := strings.ToLower(tags["p"])
	switch p {
	case "none", "quarantine", "reject":
		d.Policy = p
	case "":
		d.Problem = "no p= tag"
	default:
		d.Problem = fmt.Sprintf("invalid p=%q", tags["p"])
	}
	if sp := strings.ToLower(tags["sp"]); sp != "" {
		if sp == "none" || sp == "quarantine" || sp == "reject" {
			d.SP = sp
		} else if d.Problem == "" {
			d.Problem = fmt.Sprintf("invalid sp=%q", tags["sp"])
		}
	}
	if v, ok := tags["pct"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			if d.Problem == "" {
				d.Problem = fmt.Sprintf("invalid pct=%q", v)
			}
		} else {
			d.Pct = n
		}
	}
	return d
}

// spfRecord picks the v=spf1 record among TXT strings.
func spfRecord(recs []string) (string, int) {
	var found []string
	for _, r := range recs {
		r = strings.TrimSpace(r)
		if strings.EqualFold(r, "v=spf1") || (len(r) > 7 && strings.EqualFold(r[:7], "v=spf1 ")) {
			found = append(found, r)
		}
	}
	if len(found) == 0 {
		return "", 0
	}
	return found[0], len(found)
}

type lookupFunc func(name string) ([]string, error)

// checkSPF fetches and evaluates the domain's SPF policy. It returns an
// error only when a lookup failed (so the result is unknown).
func checkSPF(domain string, lookup lookupFunc) (*estate.SPF, error) {
	recs, err := lookup(domain)
	if err != nil {
		return nil, err
	}
	rec, n := spfRecord(recs)
	if n == 0 {
		return nil, nil // no SPF record
	}
	spf := &estate.SPF{Record: rec, Valid: true}
	if n > 1 {
		spf.Valid = false
		spf.Problem = "multiple SPF records (permerror)"
		return spf, nil
	}
	ev := &spfEval{lookup: lookup, visited: map[string]bool{strings.ToLower(domain): true}}
	all, err := ev.eval(rec, 0)
	if err != nil {
		return nil, err
	}
	spf.All = all
	spf.LookupCount = ev.count
	switch {
	case ev.problem != "":
		spf.Valid = false
		spf.Problem = ev.problem
	case ev.count > MaxLookups:
		spf.Valid = false
		spf.Problem = fmt.Sprintf("%d DNS lookups, more than %d (permerror)", ev.count, MaxLookups)
	case all == "":
		spf.Problem = "no all mechanism (default ?all: neutral)"
	case all == "+all":
		spf.Problem = "+all allows any sender"
	}
	return spf, nil
}

type spfEval struct {
	lookup  lookupFunc
	visited map[string]bool
	count   int
	problem string
}

// ParseSPF splits a record into terms (for tests and fuzzing).
func ParseSPF(rec string) (terms []string, ok bool) {
	f := strings.Fields(rec)
	if len(f) == 0 || !strings.EqualFold(f[0], "v=spf1") {
		return nil, false
	}
	return f[1:], true
}

// eval counts DNS-querying terms in rec and nested records, returning the
// all qualifier of this record (or of its redirect target).
func (e *spfEval) eval(rec string, depth int) (string, error) {
	terms, ok := ParseSPF(rec)
	if !ok {
		e.setProblem("not an SPF record")
		return "", nil
	}
	all := ""
	redirect := ""
	for _, t := range terms {
		lt := strings.ToLower(t)
		q := "+"
		if strings.ContainsAny(lt[:1], "+-~?") {
			q, lt = lt[:1], lt[1:]
		}
		name, arg, _ := strings.Cut(lt, ":")
		if strings.HasPrefix(lt, "redirect=") {
			name, arg = "redirect", strings.TrimPrefix(lt, "redirect=")
		} else if strings.HasPrefix(lt, "exp=") {
			continue
		} else if n, _, ok := strings.Cut(name, "/"); ok {
			name = n // a/24, mx/24
		}
		switch name {
		case "all":
			if all == "" {
				all = q + "all"
			}
		case "include":
			e.count++
			if arg == "" {
				e.setProblem("include without a domain")
				continue
			}
			if err := e.nested(arg, depth); err != nil {
				return "", err
			}
		case "redirect":
			e.count++
			redirect = arg
		case "a", "mx", "ptr", "exists":
			e.count++
		case "ip4", "ip6":
		default:
			if strings.Contains(lt, "=") {
				continue // unknown modifier: ignored per RFC 7208
			}
			e.setProblem(fmt.Sprintf("unknown mechanism %q", t))
		}
	}
	if redirect != "" && all == "" {
		// redirect= applies only when there is no all mechanism.
		if e.visited[redirect] {
			e.setProblem("redirect loop at " + redirect)
			return "", nil
		}
		e.visited[redirect] = true
		defer delete(e.visited, redirect)
		recs, err := e.lookup(redirect)
		if err != nil {
			return "", err
		}
		r, n := spfRecord(recs)
		if n != 1 {
			e.setProblem("redirect=" + redirect + " has no single SPF record (permerror)")
			return "", nil
		}
		if depth < 20 {
			return e.eval(r, depth+1)
		}
	}
	return all, nil
}

func (e *spfEval) nested(domain string, depth int) error {
	if strings.Contains(domain, "%{") {
		return nil // macro: cannot be expanded without a sender; counted only
	}
	if e.visited[domain] {
		e.setProblem("include loop at " + domain)
		return nil
	}
	if e.count > MaxLookups || depth > 20 {
		return nil // already over the limit; stop descending
	}
	// visited is the current include chain: the same domain included from
	// two branches is evaluated (and counted) twice, as receivers do.
	e.visited[domain] = true
	defer delete(e.visited, domain)
	recs, err := e.lookup(domain)
	if err != nil {
		return err
	}
	r, n := spfRecord(recs)
	if n != 1 {
		e.setProblem("include:" + domain + " has no single SPF record (permerror)")
		return nil
	}
	_, err = e.eval(r, depth+1)
	return err
}

func (e *spfEval) setProblem(p string) {
	if e.problem == "" {
		e.problem = p
	}
}

// Plan lists the lookups Check makes for a domain (for --dry-run).
func (c *Checker) Plan(t Target) []string {
	sels := c.Selectors
	if len(sels) == 0 {
		sels = DefaultSelectors
	}
	p := []string{t.Domain + " TXT (SPF, and nested include:/redirect= targets)", "_dmarc." + t.Domain + " TXT"}
	for _, s := range sels {
		p = append(p, s+"._domainkey."+t.Domain+" TXT")
	}
	return append(p, "_mta-sts."+t.Domain+" TXT", "_smtp._tls."+t.Domain+" TXT")
}
