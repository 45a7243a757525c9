// Package loggen writes synthetic authentication logs (sshd syslog,
// Winlogbeat Windows Security JSON, Entra ID sign-ins, Okta System Log) with
// labelled attacks and a ground-truth file, for benchmarks, tests and demos.
// It is imported by the gen-logs command and by tests; it imports nothing
// of firebreak's.
//
// The output is deterministic for a given Options (same seed, same bytes).
package loggen

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Formats.
const (
	FormatSSHD    = "sshd"
	FormatWindows = "windows"
	FormatEntra   = "entra"
	FormatOkta    = "okta"
	FormatRMM     = "rmm" // RMM console audit log (JSON lines, read with a generic mapping)
)

// Formats lists the supported formats.
var Formats = []string{FormatSSHD, FormatWindows, FormatEntra, FormatOkta, FormatRMM}

// Attack kinds (Actor.Kind).
const (
	KindBruteForce        = "brute_force"         // key: source_ip
	KindSlowBruteForce    = "slow_brute_force"    // key: source_ip
	KindSpray             = "spray"               // key: source_ip (one source, many users, one tenant)
	KindDistributedSpray  = "distributed_spray"   // key: tenant (many sources, distinct users, one hour)
	KindCrossTenantSpray  = "cross_tenant_spray"  // key: source_ip (one source, >= 3 tenants)
	KindStuffing          = "credential_stuffing" // key: source_ip (mostly unknown users)
	KindSuccessAfterSpray = "success_after_spray" // key: source_ip and user
	KindMFAFatigue        = "mfa_fatigue"         // key: user
	KindRMMFanout         = "rmm_fanout"          // key: user (operator): scripts on >= 5 tenants in 10 minutes
	// KindCrossTenantSuccess selects a cross-tenant spray that then succeeds
	// for one user; its actor has Kind KindCrossTenantSpray and Succeeded.
	KindCrossTenantSuccess = "cross_tenant_spray_success"
	KindBenignTypo         = "benign_typo"       // benign: user mistypes, then succeeds
	KindBenignNAT          = "benign_nat_office" // benign: office behind one IP, occasional failures
)

// Tenant is one customer the generated logs belong to.
type Tenant struct {
	ID      string `json:"id"`
	Domain  string `json:"domain"`
	EntraID string `json:"entra_tenant_id,omitempty"`
}

// DefaultTenants returns the Harbourview example tenants.
func DefaultTenants() []Tenant {
	ids := []string{"brightwater-dental", "cedar-law", "northgate-logistics", "riverside-clinic", "oakfield-school",
		"summit-accounting", "pier9-freight", "lakeside-vets", "meridian-architects", "copperline-mfg",
		"greenleaf-nursery", "bluepeak-insurance", "stonebridge-council", "fairview-pharmacy", "redwood-realty",
		"silverlake-hotel", "ironworks-eng", "maple-ortho", "westend-charity", "kestrel-aviation", "harvest-foods",
		"quayside-marina", "pinecrest-care", "atlas-print", "granite-cu"}
	out := make([]Tenant, len(ids))
	for i, id := range ids {
		out[i] = Tenant{ID: id, Domain: id + ".example", EntraID: fakeGUID(id)}
	}
	return out
}

// DefaultTenantGUID returns a stable made-up Entra tenant id for a tenant
// without one.
func DefaultTenantGUID(id string) string { return fakeGUID(id) }

func fakeGUID(s string) string {
	var h uint64 = 1469598103934665603
	var h2 uint64 = 7809847782465536322
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
		h2 = (h2 ^ uint64(s[i])) * 0x100000001b3
	}
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(h>>32), uint16(h>>16), uint16(h)&0xfff, uint16(h2>>48)&0xfff, h2&0xffffffffffff)
}

// Options configure Generate.
type Options struct {
	Format  string        // sshd, windows, entra, okta
	Lines   int           // approximate number of lines to write (exact for JSON formats)
	Seed    int64         // random seed
	Start   time.Time     // first timestamp (default 2026-11-26T00:00:00Z)
	Span    time.Duration // time covered (default 24h)
	Tenants []Tenant      // default DefaultTenants()
	// Attacks scales the number of attackers of each kind; 0 picks from Lines
	// (about one per kind per 100k lines, at least one, at most 40).
	Attacks int
	// Kinds restricts the attack kinds generated (default: all that the
	// format supports).
	Kinds []string
	// HostsPerTenant is the number of servers per tenant (sshd, windows; default 2).
	HostsPerTenant int
	// Operators are the MSP technicians (UPNs) in RMM logs (default tech-01..12).
	Operators []string
	// Console is the RMM console host name (default vsa01.harbourview-it.example).
	Console string
}

// Actor is one labelled actor in the truth file: an attacker (or a benign
// actor generated to tempt false positives).
type Actor struct {
	Kind      string    `json:"kind"`
	Attacker  bool      `json:"attacker"`
	SourceIP  string    `json:"source_ip,omitempty"`
	SourceIPs int       `json:"source_ips,omitempty"` // distributed spray: number of sources
	User      string    `json:"user,omitempty"`
	Tenant    string    `json:"tenant,omitempty"`
	Tenants   []string  `json:"tenants,omitempty"`
	Users     int       `json:"users,omitempty"` // distinct users targeted
	Attempts  int       `json:"attempts"`        // failed attempts (and MFA pushes)
	Succeeded bool      `json:"succeeded,omitempty"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
}

// Truth describes what Generate wrote.
type Truth struct {
	Format string    `json:"format"`
	Seed   int64     `json:"seed"`
	Lines  int       `json:"lines"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Actors []Actor   `json:"actors"`
}

// WriteJSONL writes the truth as JSON lines: one actor per line.
func (t *Truth) WriteJSONL(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, a := range t.Actors {
		if err := enc.Encode(a); err != nil {
			return err
		}
	}
	return nil
}

// event kinds
const (
	eFail        uint8 = iota // bad password for an existing user
	eFailUnknown              // unknown user
	eSuccess                  // successful password login
	ePushSent                 // MFA push sent
	ePushDeny                 // MFA push denied
	eMFAApprove               // MFA approved
	eLocked                   // account locked
	eScript                   // RMM: script run on an agent
)

// gev is one generated authentication event.
type gev struct {
	t      int64 // unix nanoseconds
	kind   uint8
	tenant int
	user   string
	ip     netip.Addr
	port   int
	script string
}

type gen struct {
	o       Options
	rng     *rand.Rand
	tenants []Tenant
	users   [][]string // per tenant: existing user names (sshd: local names; others: first.last)
	hosts   [][]string // per tenant
	evs     []gev
	truth   Truth
	nextIP  uint32 // attacker address allocator in 198.18.0.0/15
	start   int64
	span    int64
}

// Generate writes a log to w and returns its truth.
func Generate(w io.Writer, o Options) (*Truth, error) {
	switch o.Format {
	case FormatSSHD, FormatWindows, FormatEntra, FormatOkta, FormatRMM:
	default:
		return nil, fmt.Errorf("loggen: unknown format %q (want one of %v)", o.Format, Formats)
	}
	if o.Lines <= 0 {
		o.Lines = 10000
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	}
	o.Start = o.Start.UTC()
	if o.Span <= 0 {
		o.Span = 24 * time.Hour
	}
	if len(o.Tenants) == 0 {
		o.Tenants = DefaultTenants()
	}
	if len(o.Tenants) == 0 {
		return nil, fmt.Errorf("loggen: no tenants")
	}
	o.Kinds = slices.Clone(o.Kinds)
	if err := checkKinds(&o); err != nil {
		return nil, err
	}
	if o.HostsPerTenant <= 0 {
		o.HostsPerTenant = 2
	}
	if len(o.Operators) == 0 {
		for i := 1; i <= 12; i++ {
			o.Operators = append(o.Operators, fmt.Sprintf("tech-%02d@harbourview-it.example", i))
		}
	}
	if o.Console == "" {
		o.Console = "vsa01.harbourview-it.example"
	}
	g := &gen{o: o, rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x9e3779b97f4a7c15)), tenants: o.Tenants,
		start: o.Start.UnixNano(), span: int64(o.Span),
		nextIP: uint32(uint64(o.Seed)%97) * 1000} // different seeds, different attacker addresses
	g.truth = Truth{Format: o.Format, Seed: o.Seed, Start: o.Start, End: o.Start.Add(o.Span)}
	g.population()
	g.attacks()
	slices.SortStableFunc(g.evs, func(a, b gev) int { return cmp.Compare(a.t, b.t) })

	bw := bufio.NewWriterSize(w, 1<<20)
	r := newRenderer(g)
	n, err := r.write(bw, g.evs, o.Lines)
	if err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	g.truth.Lines = n
	return &g.truth, nil
}

var firstNames = []string{"ann", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "ken", "lena",
	"mike", "nina", "oscar", "peggy", "quinn", "rita", "sam", "tina", "uma", "victor", "wendy", "xavier", "yara", "zack",
	"adam", "bella", "chris", "dina", "eli", "fay", "gus", "hana", "igor", "jade", "kai", "lola", "max", "nora"}
var lastNames = []string{"lee", "smith", "jones", "brown", "khan", "garcia", "muller", "rossi", "novak", "silva",
	"tan", "okafor", "dubois", "ivanova", "kowalski", "nguyen", "larsen", "murphy", "cohen", "sato"}

// invalid names attackers try on sshd and elsewhere
var junkUsers = []string{"admin", "test", "oracle", "postgres", "ubuntu", "user", "git", "guest", "ftpuser", "pi",
	"support", "mysql", "administrator", "hadoop", "jenkins", "nagios", "tomcat", "www", "dev", "backup2", "sales",
	"info", "office", "scanner", "demo", "vagrant", "minecraft", "steam", "ts3", "odoo", "zabbix", "elastic", "kafka"}

func (g *gen) population() {
	for ti, t := range g.tenants {
		var us []string
		n := 30 + g.rng.IntN(30)
		seen := map[string]bool{}
		for len(us) < n {
			f := firstNames[g.rng.IntN(len(firstNames))]
			l := lastNames[g.rng.IntN(len(lastNames))]
			var u string
			switch g.o.Format {
			case FormatSSHD:
				u = f[:1] + l
			case FormatWindows:
				u = f + "." + l
			default:
				u = f + "." + l + "@" + t.Domain
			}
			if !seen[u] {
				seen[u] = true
				us = append(us, u)
			}
		}
		g.users = append(g.users, us)
		short := t.ID
		var hs []string
		switch g.o.Format {
		case FormatSSHD:
			hs = []string{"srv01." + t.Domain, "srv02." + t.Domain, "srv03." + t.Domain}[:min(3, g.o.HostsPerTenant)]
		case FormatWindows:
			hs = []string{"dc01." + t.Domain, "fs01." + t.Domain, "app01." + t.Domain}[:min(3, g.o.HostsPerTenant)]
		case FormatRMM:
			hs = []string{strings.ToUpper(short) + "-WS-001", strings.ToUpper(short) + "-WS-002", strings.ToUpper(short) + "-SRV-01"}
		default:
			hs = []string{short}
		}
		g.hosts = append(g.hosts, hs)
		_ = ti
	}
}

// attackerIP returns a fresh address in 198.18.0.0/15 (benchmarking range).
func (g *gen) attackerIP() netip.Addr {
	g.nextIP++
	v := g.nextIP*7919%131000 + 1
	return netip.AddrFrom4([4]byte{198, 18 + byte(v>>16), byte(v >> 8), byte(v)})
}

func (g *gen) officeIP(tenant int) netip.Addr {
	return netip.AddrFrom4([4]byte{203, 0, 113, byte(tenant%250 + 1)})
}

func (g *gen) homeIP() netip.Addr {
	v := g.rng.Uint32N(1 << 20)
	return netip.AddrFrom4([4]byte{100, 64 + byte(v>>16&0x3f), byte(v >> 8), byte(v)})
}

func (g *gen) port() int { return 1024 + g.rng.IntN(64000) }

func (g *gen) add(e gev) {
	if e.tenant < 0 {
		e.tenant = len(g.tenants) // the MSP itself (RMM console logins)
	}
	if e.t < g.start {
		e.t = g.start
	}
	if e.t >= g.start+g.span {
		e.t = g.start + g.span - 1
	}
	g.evs = append(g.evs, e)
}

// allKinds are the attack kinds the generator knows, in generation order.
var allKinds = []string{KindBruteForce, KindSlowBruteForce, KindSpray, KindDistributedSpray, KindCrossTenantSpray,
	KindCrossTenantSuccess, KindStuffing, KindSuccessAfterSpray, KindMFAFatigue, KindRMMFanout}

// availableKinds are the kinds a format can express with this many tenants.
func availableKinds(format string, tenants int) []string {
	all := []string{KindBruteForce, KindSlowBruteForce, KindSpray, KindDistributedSpray, KindCrossTenantSpray,
		KindCrossTenantSuccess, KindStuffing, KindSuccessAfterSpray}
	if tenants < 3 {
		all = slices.DeleteFunc(all, func(k string) bool { return k == KindCrossTenantSpray || k == KindCrossTenantSuccess })
	}
	if format == FormatRMM {
		all = []string{KindBruteForce, KindRMMFanout}
	}
	if format == FormatEntra || format == FormatOkta {
		all = append(all, KindMFAFatigue)
	}
	return all
}

// checkKinds normalises the requested kinds ("brute-force" is
// "brute_force") and refuses one the generator does not know or cannot
// write in this format, so a typo is an error rather than a log with no
// attacks in it.
func checkKinds(o *Options) error {
	avail := availableKinds(o.Format, len(o.Tenants))
	for i, k := range o.Kinds {
		k = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), "-", "_")
		o.Kinds[i] = k
		switch {
		case !slices.Contains(allKinds, k):
			return fmt.Errorf("loggen: unknown attack kind %q (known: %s)", k, strings.Join(allKinds, ", "))
		case !slices.Contains(avail, k):
			why := "in this format"
			if (k == KindCrossTenantSpray || k == KindCrossTenantSuccess) && len(o.Tenants) < 3 {
				why = fmt.Sprintf("with %d tenants (it needs at least 3)", len(o.Tenants))
			}
			return fmt.Errorf("loggen: attack kind %q cannot be generated %s; %s can: %s", k, why, o.Format, strings.Join(avail, ", "))
		}
	}
	return nil
}

func (g *gen) kinds() []string {
	all := availableKinds(g.o.Format, len(g.tenants))
	if len(g.o.Kinds) == 0 {
		return all
	}
	var out []string
	for _, k := range all {
		if slices.Contains(g.o.Kinds, k) {
			out = append(out, k)
		}
	}
	return out
}

func (g *gen) attacks() {
	per := g.o.Attacks
	if per <= 0 {
		per = min(40, max(1, g.o.Lines/100000))
	}
	for _, k := range g.kinds() {
		n := per
		if k == KindDistributedSpray || k == KindCrossTenantSpray || k == KindCrossTenantSuccess || k == KindRMMFanout {
			n = max(1, per/3)
		}
		for range n {
			switch k {
			case KindBruteForce:
				g.bruteForce()
			case KindSlowBruteForce:
				g.slowBruteForce()
			case KindSpray:
				g.spray(false)
			case KindDistributedSpray:
				g.distributedSpray()
			case KindCrossTenantSpray:
				g.crossTenant(false)
			case KindCrossTenantSuccess:
				g.crossTenant(true)
			case KindRMMFanout:
				g.rmmFanout()
			case KindStuffing:
				g.stuffing()
			case KindSuccessAfterSpray:
				g.spray(true)
			case KindMFAFatigue:
				g.mfaFatigue()
			}
		}
	}
	g.benign()
}

func (g *gen) actor(a Actor, first, last int64) {
	a.First = time.Unix(0, first).UTC().Truncate(time.Second)
	a.Last = time.Unix(0, last).UTC().Truncate(time.Second)
	g.truth.Actors = append(g.truth.Actors, a)
}

// upn reports whether user names are UPNs (user@domain).
func (g *gen) upn() bool { return g.o.Format == FormatEntra || g.o.Format == FormatOkta }

func (g *gen) pickUser(t int) string { u := g.users[t]; return u[g.rng.IntN(len(u))] }

func (g *gen) junk(t int) string {
	j := junkUsers[g.rng.IntN(len(junkUsers))]
	if !g.upn() {
		return j
	}
	return j + "@" + g.tenants[t].Domain
}

// window start leaving room for d at the end of the span
func (g *gen) startFor(d int64) int64 {
	room := g.span - d
	if room <= 0 {
		return g.start
	}
	return g.start + g.rng.Int64N(room)
}

func (g *gen) bruteForce() {
	t := g.rng.IntN(len(g.tenants))
	ip := g.attackerIP()
	user := "root"
	tenantID := g.tenants[t].ID
	switch g.o.Format {
	case FormatSSHD:
	case FormatRMM: // the internet-exposed RMM console's login
		t = -1
		tenantID = ""
		user = g.o.Operators[g.rng.IntN(len(g.o.Operators))]
	default:
		user = g.pickUser(t)
	}
	n := 20 + g.rng.IntN(80)
	d := int64(2+g.rng.IntN(8)) * int64(time.Minute)
	t0 := g.startFor(d)
	for i := range n {
		g.add(gev{t: t0 + d*int64(i)/int64(n), kind: eFail, tenant: t, user: user, ip: ip, port: g.port()})
	}
	attempts := n
	if t >= 0 && (g.o.Format == FormatEntra || g.o.Format == FormatOkta || g.o.Format == FormatWindows) {
		g.add(gev{t: t0 + d + int64(time.Second), kind: eLocked, tenant: t, user: user, ip: ip})
		if g.o.Format == FormatEntra {
			attempts++ // Entra logs the locked-out attempt itself as a failed sign-in (50053)
		}
	}
	g.actor(Actor{Kind: KindBruteForce, Attacker: true, SourceIP: ip.String(), User: user, Tenant: tenantID, Users: 1, Attempts: attempts}, t0, t0+d+int64(time.Second))
}

func (g *gen) slowBruteForce() {
	t := g.rng.IntN(len(g.tenants))
	ip := g.attackerIP()
	user := "root"
	if g.o.Format != FormatSSHD {
		user = g.pickUser(t)
	}
	n := 30 + g.rng.IntN(30)
	step := int64(3*time.Minute) + g.rng.Int64N(int64(5*time.Minute))
	d := step * int64(n)
	t0 := g.startFor(d)
	for i := range n {
		g.add(gev{t: t0 + step*int64(i) + g.rng.Int64N(int64(20*time.Second)), kind: eFail, tenant: t, user: user, ip: ip, port: g.port()})
	}
	g.actor(Actor{Kind: KindSlowBruteForce, Attacker: true, SourceIP: ip.String(), User: user, Tenant: g.tenants[t].ID, Users: 1, Attempts: n}, t0, t0+d)
}

// spray: one source, 25-50 existing users of one tenant within ~10 minutes;
// with success, one user's password works a few minutes later.
func (g *gen) spray(success bool) {
	t := g.rng.IntN(len(g.tenants))
	ip := g.attackerIP()
	users := slices.Clone(g.users[t])
	g.rng.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
	n := min(len(users), 25+g.rng.IntN(25))
	d := int64(5+g.rng.IntN(5)) * int64(time.Minute)
	t0 := g.startFor(d + int64(30*time.Minute))
	for i := range n {
		g.add(gev{t: t0 + d*int64(i)/int64(n), kind: eFail, tenant: t, user: users[i], ip: ip, port: g.port()})
	}
	a := Actor{Kind: KindSpray, Attacker: true, SourceIP: ip.String(), Tenant: g.tenants[t].ID, Users: n, Attempts: n}
	last := t0 + d
	if success {
		a.Kind = KindSuccessAfterSpray
		a.Succeeded = true
		a.User = users[g.rng.IntN(n)]
		last = t0 + d + int64(time.Duration(1+g.rng.IntN(10))*time.Minute)
		g.add(gev{t: last, kind: eSuccess, tenant: t, user: a.User, ip: ip, port: g.port()})
	}
	g.actor(a, t0, last)
}

// distributedSpray: one tenant, 40-60 distinct users, each attempt from a
// different source (1-2 attempts per source), spread over 40-55 minutes.
func (g *gen) distributedSpray() {
	t := g.rng.IntN(len(g.tenants))
	users := slices.Clone(g.users[t])
	g.rng.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
	n := min(len(users), 40+g.rng.IntN(20))
	d := int64(40+g.rng.IntN(15)) * int64(time.Minute)
	t0 := g.startFor(d)
	nIP := 0
	var ip netip.Addr
	for i := range n {
		if i%2 == 0 || g.rng.IntN(2) == 0 {
			ip = g.attackerIP()
			nIP++
		}
		g.add(gev{t: t0 + d*int64(i)/int64(n), kind: eFail, tenant: t, user: users[i], ip: ip, port: g.port()})
	}
	g.actor(Actor{Kind: KindDistributedSpray, Attacker: true, Tenant: g.tenants[t].ID, SourceIPs: nIP, Users: n, Attempts: n}, t0, t0+d)
}

// crossTenant: one source tries 2-3 users in each of 3-6 tenants within 30
// minutes, staying under per-tenant thresholds.
func (g *gen) crossTenant(success bool) {
	ip := g.attackerIP()
	nt := 3 + g.rng.IntN(4)
	perm := g.rng.Perm(len(g.tenants))[:min(nt, len(g.tenants))]
	d := int64(20+g.rng.IntN(10)) * int64(time.Minute)
	t0 := g.startFor(d)
	var tenants []string
	counts := make([]int, len(perm))
	total := 0
	for k, t := range perm {
		tenants = append(tenants, g.tenants[t].ID)
		counts[k] = 2 + g.rng.IntN(2)
		total += counts[k]
	}
	i := 0
	for k, t := range perm {
		for range counts[k] {
			g.add(gev{t: t0 + d*int64(i)/int64(total), kind: eFail, tenant: t, user: g.pickUser(t), ip: ip, port: g.port()})
			i++
		}
	}
	slices.Sort(tenants)
	a := Actor{Kind: KindCrossTenantSpray, Attacker: true, SourceIP: ip.String(), Tenants: tenants, Attempts: i}
	last := t0 + d
	if success {
		t := perm[g.rng.IntN(len(perm))]
		a.Succeeded = true
		a.User = g.pickUser(t)
		last += int64(time.Duration(2+g.rng.IntN(8)) * time.Minute)
		g.add(gev{t: last, kind: eSuccess, tenant: t, user: a.User, ip: ip, port: g.port()})
	}
	g.actor(a, t0, last)
}

// rmmFanout: one operator account, from an address never seen before, runs
// the same script on agents of 6-12 tenants within 4-8 minutes (the Kaseya
// VSA pattern).
func (g *gen) rmmFanout() {
	op := g.o.Operators[g.rng.IntN(len(g.o.Operators))]
	ip := g.attackerIP()
	nt := min(len(g.tenants), 6+g.rng.IntN(7))
	perm := g.rng.Perm(len(g.tenants))[:nt]
	d := int64(4+g.rng.IntN(5)) * int64(time.Minute)
	t0 := g.startFor(d + int64(time.Minute))
	g.add(gev{t: t0 - int64(30*time.Second), kind: eSuccess, user: op, ip: ip, tenant: -1})
	var tenants []string
	n := 0
	for i, t := range perm {
		tenants = append(tenants, g.tenants[t].ID)
		for j := range 1 + g.rng.IntN(3) {
			g.add(gev{t: t0 + d*int64(i)/int64(nt) + int64(j)*int64(5*time.Second), kind: eScript, tenant: t, user: op, ip: ip, script: fanoutScript})
			n++
		}
	}
	slices.Sort(tenants)
	g.actor(Actor{Kind: KindRMMFanout, Attacker: true, SourceIP: ip.String(), User: op, Tenants: tenants, Attempts: n}, t0, t0+d)
}

const fanoutScript = "Kaseya VSA Agent Hot-fix"

// stuffing: one source, 40-80 user names (80% unknown) within 10 minutes.
func (g *gen) stuffing() {
	t := g.rng.IntN(len(g.tenants))
	ip := g.attackerIP()
	n := 40 + g.rng.IntN(40)
	d := int64(5+g.rng.IntN(5)) * int64(time.Minute)
	t0 := g.startFor(d)
	seen := map[string]bool{}
	for i := range n {
		kind := eFailUnknown
		var u string
		if g.rng.IntN(5) == 0 {
			kind, u = eFail, g.pickUser(t)
		} else {
			u = fmt.Sprintf("%s%d", g.junk(t), g.rng.IntN(1000))
			if g.upn() {
				j := junkUsers[g.rng.IntN(len(junkUsers))]
				u = fmt.Sprintf("%s%d@%s", j, g.rng.IntN(1000), g.tenants[t].Domain)
			}
		}
		seen[u] = true
		g.add(gev{t: t0 + d*int64(i)/int64(n), kind: kind, tenant: t, user: u, ip: ip, port: g.port()})
	}
	g.actor(Actor{Kind: KindStuffing, Attacker: true, SourceIP: ip.String(), Tenant: g.tenants[t].ID, Users: len(seen), Attempts: n}, t0, t0+d)
}

// mfaFatigue: a valid password from an attacker source, then 6-15 pushes
// denied within 10 minutes, then one approved.
func (g *gen) mfaFatigue() {
	t := g.rng.IntN(len(g.tenants))
	ip := g.attackerIP()
	user := g.pickUser(t)
	n := 6 + g.rng.IntN(10)
	d := int64(5+g.rng.IntN(4)) * int64(time.Minute)
	t0 := g.startFor(d + int64(time.Minute))
	for i := range n {
		ts := t0 + d*int64(i)/int64(n)
		g.add(gev{t: ts, kind: ePushSent, tenant: t, user: user, ip: ip})
		g.add(gev{t: ts + int64(8*time.Second), kind: ePushDeny, tenant: t, user: user, ip: ip})
	}
	end := t0 + d + int64(30*time.Second)
	g.add(gev{t: end - int64(10*time.Second), kind: ePushSent, tenant: t, user: user, ip: ip})
	g.add(gev{t: end, kind: eMFAApprove, tenant: t, user: user, ip: ip})
	g.actor(Actor{Kind: KindMFAFatigue, Attacker: true, SourceIP: ip.String(), User: user, Tenant: g.tenants[t].ID, Attempts: n, Succeeded: true}, t0, end)
}

// benign: users mistyping their password (1-2 failures then success) from
// home or office, spread thin enough never to look like an attack.
func (g *gen) benign() {
	if g.o.Format == FormatRMM {
		g.benignRMM()
		return
	}
	// at most one typo per tenant per 30 minutes, in evenly spaced slots
	// (jitter under half a slot), so that no office IP or tenant ever sees
	// more than two failures in ten minutes or four failing users in an hour.
	perTenant := max(1, min(int(g.o.Span/(30*time.Minute)), g.o.Lines/2000/len(g.tenants)))
	slot := g.span / int64(perTenant)
	for t := range g.tenants {
		for j := range perTenant {
			user := g.pickUser(t)
			ip := g.officeIP(t)
			kind := KindBenignNAT
			if g.rng.IntN(2) == 0 {
				ip = g.homeIP()
				kind = KindBenignTypo
			}
			t0 := g.start + slot*int64(j) + g.rng.Int64N(max(1, slot/2))
			fails := 1 + g.rng.IntN(2)
			for k := range fails {
				g.add(gev{t: t0 + int64(k)*int64(20*time.Second), kind: eFail, tenant: t, user: user, ip: ip, port: g.port()})
			}
			last := t0 + int64(fails)*int64(20*time.Second) + int64(10*time.Second)
			g.add(gev{t: last, kind: eSuccess, tenant: t, user: user, ip: ip, port: g.port()})
			if g.o.Format == FormatEntra || g.o.Format == FormatOkta {
				// a user with MFA: one push, approved
				g.add(gev{t: last + int64(time.Second), kind: ePushSent, tenant: t, user: user, ip: ip})
				g.add(gev{t: last + int64(6*time.Second), kind: eMFAApprove, tenant: t, user: user, ip: ip})
			}
			g.actor(Actor{Kind: kind, SourceIP: ip.String(), User: user, Tenant: g.tenants[t].ID, Users: 1, Attempts: fails, Succeeded: true}, t0, last)
		}
	}
}

// mspOfficeIP is the MSP's own office address (all technicians behind it).
var mspOfficeIP = netip.AddrFrom4([4]byte{203, 0, 113, 250})

// benignRMM: technicians mistype their console password now and then, all
// from the MSP office behind one NAT address.
func (g *gen) benignRMM() {
	per := max(1, min(int(g.o.Span/(30*time.Minute)), g.o.Lines/500))
	slot := g.span / int64(per)
	for j := range per {
		op := g.o.Operators[g.rng.IntN(len(g.o.Operators))]
		t0 := g.start + slot*int64(j) + g.rng.Int64N(max(1, slot/2))
		g.add(gev{t: t0, kind: eFail, tenant: -1, user: op, ip: mspOfficeIP, port: g.port()})
		last := t0 + int64(15*time.Second)
		g.add(gev{t: last, kind: eSuccess, tenant: -1, user: op, ip: mspOfficeIP, port: g.port()})
		g.actor(Actor{Kind: KindBenignNAT, SourceIP: mspOfficeIP.String(), User: op, Users: 1, Attempts: 1, Succeeded: true}, t0, last)
	}
}
