package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// Input is one assessment run: the estate, its results and its trust
// graph, judged at Report.At.
type Input struct {
	Estate *estate.Estate
	Report *assess.Report
	Graph  *trust.Graph
	// Issued is when the statements are signed; Validity how long they
	// hold (default 30 days).
	Issued   time.Time
	Validity time.Duration
	Tool     ToolRef
}

// maxReachers caps the compromises listed per tenant (Blast.Total counts
// them all).
const maxReachers = 50

// Builder makes the statements of one run; the graph facts are computed
// once and shared by every tenant's statement.
type Builder struct {
	in      Input
	facts   *trust.FactsDoc
	rank    *trust.Ranking
	access  map[string][]Access             // tenant → the MSP's direct access into it
	objects map[string][]store.EstateObject // owner → its objects
	results map[string][]int                // subject → indexes into Report.Results
}

// NewBuilder prepares the per-run facts.
func NewBuilder(in Input) (*Builder, error) {
	if in.Estate == nil || in.Report == nil || in.Graph == nil {
		return nil, fmt.Errorf("attest: estate, report and trust graph are all needed")
	}
	if in.Validity <= 0 {
		in.Validity = 30 * 24 * time.Hour
	}
	if in.Issued.IsZero() {
		in.Issued = in.Report.At
	}
	b := &Builder{in: in, facts: trust.FactsOf(in.Graph), rank: in.Graph.Ranking(),
		objects: map[string][]store.EstateObject{}, results: map[string][]int{}}
	for _, o := range store.EstateObjects(in.Estate) {
		b.objects[o.Tenant] = append(b.objects[o.Tenant], o)
	}
	for i := range in.Report.Results {
		s := in.Report.Results[i].Subject
		b.results[s] = append(b.results[s], i)
	}
	b.access = directAccess(in.Graph)
	return b, nil
}

// directAccess lists, per tenant, every edge from an object the tenant does
// not own (the MSP's staff, tools, vendors, other tenants' objects) into
// the tenant or one of its objects: the access the MSP holds there.
func directAccess(g *trust.Graph) map[string][]Access {
	// Edges per tenant first, ordered by privilege (strongest first) then
	// principal, so the order is decided on trust.Priv, not its text.
	edges := map[string][]*trust.Edge{}
	for i := range g.Edges {
		e := &g.Edges[i]
		from, to := &g.Nodes[e.From], &g.Nodes[e.To]
		tenant := to.Home
		if to.Kind == trust.KindTenant {
			tenant = to.ID
		}
		if tenant == "" || tenant == estate.MSP || from.Home == tenant || from.Kind == trust.KindOutsider || e.Priv == trust.None {
			continue
		}
		edges[tenant] = append(edges[tenant], e)
	}
	out := make(map[string][]Access, len(edges))
	for t, es := range edges {
		slices.SortStableFunc(es, func(x, y *trust.Edge) int {
			if x.Priv != y.Priv {
				return int(y.Priv) - int(x.Priv)
			}
			return strings.Compare(g.Nodes[x.From].ID, g.Nodes[y.From].ID)
		})
		as := make([]Access, len(es))
		for k, e := range es {
			from := &g.Nodes[e.From]
			a := Access{Principal: from.ID, Kind: from.Kind.String(), Privilege: e.Priv.String(), Standing: !e.JIT,
				Path: fmt.Sprintf("%s → %s (%s", g.Label(e.From), g.Label(e.To), e.Kind)}
			if e.Why != "" {
				a.Path += ": " + e.Why
			}
			a.Path += ")"
			if from.Kind == trust.KindTool {
				a.Tool = from.ID
			}
			if from.Kind == trust.KindIdentity || from.Kind == trust.KindTool {
				a.MFA = string(from.MFA)
			}
			as[k] = a
		}
		out[t] = as
	}
	return out
}

// Statement builds the unsigned statement for tenant.
func (b *Builder) Statement(tenant string) (*Statement, error) {
	e := b.in.Estate
	var name string
	found := false
	for _, t := range e.Tenants {
		if t.ID == tenant {
			name, found = t.Name, true
		}
	}
	if !found {
		return nil, fmt.Errorf("no tenant %q in the estate", tenant)
	}
	// The objects the tenant owns, by the store's one ownership rule: the
	// same digest its snapshots carry.
	digest := store.EstateHash(b.objects[tenant])
	p := Posture{
		Version: PredicateVersion, Tenant: TenantRef{ID: tenant, Name: name}, Provider: b.in.Report.Provider,
		AssessedAt: b.in.Report.At.UTC(), IssuedAt: b.in.Issued.UTC(), ExpiresAt: b.in.Issued.Add(b.in.Validity).UTC(),
		Tool: b.in.Tool, EstateDigest: digest, Controls: []Control{}, Access: b.access[tenant],
	}
	if p.Access == nil {
		p.Access = []Access{}
	}
	for _, s := range b.in.Report.Scores {
		if s.Subject == tenant {
			p.Summary = Summary{Score: s.Score, Pass: s.Pass, Fail: s.Fail, NotEvaluable: s.NotEvaluable,
				NotApplicable: s.NotApplicable, Excepted: s.Excepted}
		}
	}
	for _, i := range b.results[tenant] {
		r := &b.in.Report.Results[i]
		c := Control{ID: r.Control, Title: r.Title, Party: r.Party, Severity: r.Severity, Status: string(r.Status), Message: r.Message}
		if r.Object != "" {
			c.ID += "/" + r.Object
		}
		if r.Heading > 0 {
			c.Heading = fmt.Sprintf("%d", r.Heading)
		}
		if len(r.Evidence) > 0 {
			ev, _ := json.Marshal(r.Evidence)
			sum := sha256.Sum256(ev)
			c.EvidenceDigest = hex.EncodeToString(sum[:])
		}
		p.Controls = append(p.Controls, c)
	}
	p.Blast = b.blast(tenant)
	for i := range e.Contracts {
		c := &e.Contracts[i]
		if estate.ObjectOwner(c) != tenant {
			continue
		}
		cf := &ContractFacts{ID: c.ID, Present: []string{}, Missing: []string{}}
		for _, id := range estate.Clauses {
			if c.HasClause(id) {
				cf.Present = append(cf.Present, id)
			} else {
				cf.Missing = append(cf.Missing, id)
			}
		}
		if c.Reviewed != nil {
			cf.Reviewed = c.Reviewed.String()
		}
		p.Contract = cf
	}
	return &Statement{
		Type: StatementType, PredicateType: PredicateType, Predicate: p,
		Subject: []Subject{{Name: "tenant:" + tenant, Digest: map[string]string{"sha256": digest}}},
	}, nil
}

// blast lists the MSP-side objects whose compromise reaches tenant at
// admin level: those over the MSP's blast-radius limit, the internet entry
// points, the vendors and the admin identities, as the trust controls see
// them (each list capped by the trust facts: Truncated says so). Objects of
// other tenants are counted in OtherTenants, never named.
func (b *Builder) blast(tenant string) Blast {
	out := Blast{ReachedBy: []Reacher{}}
	ft := b.facts.ByTenant[tenant]
	if ft == nil {
		return out
	}
	g := b.in.Graph
	seen := map[string]bool{}
	add := func(refs []trust.FactRef, n int) {
		if n > len(refs) {
			out.Truncated = true
		}
		for _, r := range refs {
			key := r.Kind + ":" + r.ID
			if seen[key] {
				continue
			}
			seen[key] = true
			i, found := g.Lookup(r.ID)
			if !found {
				i, found = g.Lookup(key) // an ambiguous bare id
			}
			if found {
				if h := g.Nodes[i].Home; h != "" && h != estate.MSP && h != tenant {
					out.OtherTenants++
					continue
				}
			}
			out.Total++
			if len(out.ReachedBy) == maxReachers {
				out.Truncated = true
				continue
			}
			re := Reacher{ID: r.ID, Kind: r.Kind, Tenants: 1}
			if found {
				re.Tenants = max(1, b.rank.Of(i).AtAdmin())
			}
			out.ReachedBy = append(out.ReachedBy, re)
		}
	}
	add(ft.OverLimit, ft.OverLimitN)
	add(ft.Entries, ft.EntriesN)
	add(ft.Vendors, len(ft.Vendors))
	add(ft.AdminIdentities, ft.AdminIdentityN)
	return out
}
