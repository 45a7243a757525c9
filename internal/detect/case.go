package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Case gathers every incident one attacker caused, across rules and
// tenants: a source address that sprayed, stuffed and then signed in is one
// case with three rule-level incidents inside, not three alerts. The
// attacker is the incident key's source address, else the host name PAM
// gave for it (source.domain with a dot), else its workstation, else
// its user (the target of MFA fatigue, an RMM operator), else the tenant (a
// distributed spray, a lockout storm). Cases are derived from incidents by
// Cases, the one derivation the CLI, the API and the dashboard share.
type Case struct {
	ID          string      `json:"id"`
	Attacker    string      `json:"attacker"` // field=value, e.g. source.ip=203.0.113.5
	Field       string      `json:"field"`    // source.ip, source.domain, workstation, user.name, console or tenant
	Value       string      `json:"value"`
	Severity    string      `json:"severity"`              // the highest severity among its incidents
	Title       string      `json:"title"`                 // the title of its most severe incident
	Explanation string      `json:"explanation,omitempty"` // that incident's rule description: which pattern it followed
	Pattern     string      `json:"pattern,omitempty"`     // that incident's self_recovery judgement (Incident.Pattern), if any
	Tenants     []string    `json:"tenants,omitempty"`
	First       time.Time   `json:"first"`
	Last        time.Time   `json:"last"`
	Events      int64       `json:"events"` // events attributed to its incidents (an event may count in several)
	Rules       []string    `json:"rules"`  // rule names, in the order they first fired
	IncidentIDs []string    `json:"incident_ids"`
	Incidents   []*Incident `json:"-"` // the rule-level detections, in the order they opened
}

// attackerOf returns the attacker key of an incident.
func attackerOf(inc *Incident) (field, value string) {
	if v := inc.Key["source.ip"]; v != "" {
		return "source.ip", v
	}
	if v := inc.Key["source.domain"]; strings.Contains(v, ".") {
		// A DNS name (PAM's rhost=, lower case): a Windows workstation's
		// NetBIOS name has no dot.
		return "source.domain", v
	}
	for _, f := range append([]string{"source.domain"}, workstationFields...) {
		if v := inc.Key[f]; v != "" {
			return "workstation", strings.ToUpper(v)
		}
	}
	if v := inc.Key["console"]; v != "" {
		return "console", v
	}
	if v := inc.Key["user.name"]; v != "" {
		return "user.name", v
	}
	for _, v := range inc.Key {
		if v != "" {
			return "key", v
		}
	}
	// A single-event rule reported per tenant: the source address (else the
	// host) all its samples share. (A correlation without a key, such as a
	// distributed spray, is about the whole tenant.)
	if ip, host := sharedSample(inc.Samples); ip != "" && inc.Single {
		return "source.ip", ip
	} else if host != "" && inc.Single {
		return "host.name", host
	}
	if inc.Tenant != "" {
		return "tenant", inc.Tenant
	}
	if len(inc.Tenants) > 0 {
		return "tenant", strings.Join(inc.Tenants, ",")
	}
	return "tenant", "(none)"
}

// sharedSample returns the source address and the host every sample has in
// common ("" when they differ or are absent).
func sharedSample(ss []Sample) (ip, host string) {
	for i, s := range ss {
		if i == 0 {
			ip, host = s.SourceIP, s.Host
			continue
		}
		if s.SourceIP != ip {
			ip = ""
		}
		if s.Host != host {
			host = ""
		}
	}
	return ip, host
}

// Cases groups incidents by attacker, most severe case first (then by
// first time). The incidents are not copied.
func Cases(incs []*Incident) []Case {
	idx := map[string]int{}
	var out []Case
	ordered := slices.Clone(incs)
	SortIncidents(ordered)
	for _, inc := range ordered {
		f, v := attackerOf(inc)
		k := f + "=" + v
		i, ok := idx[k]
		if !ok {
			h := sha256.Sum256([]byte(k))
			out = append(out, Case{ID: hex.EncodeToString(h[:8]), Attacker: k, Field: f, Value: v, First: inc.First, Last: inc.Last})
			i = len(out) - 1
			idx[k] = i
		}
		c := &out[i]
		c.Incidents = append(c.Incidents, inc)
		c.IncidentIDs = append(c.IncidentIDs, inc.ID)
		c.Events += inc.Count
		if inc.First.Before(c.First) {
			c.First = inc.First
		}
		if inc.Last.After(c.Last) {
			c.Last = inc.Last
		}
		if !slices.Contains(c.Rules, inc.Label()) {
			c.Rules = append(c.Rules, inc.Label())
		}
		if c.Severity == "" || LevelRank(inc.Severity) > LevelRank(c.Severity) {
			c.Severity, c.Title, c.Explanation, c.Pattern = inc.Severity, inc.Title, inc.Description, inc.Pattern
		}
		for _, t := range append([]string{inc.Tenant}, inc.Tenants...) {
			if t != "" && !slices.Contains(c.Tenants, t) {
				c.Tenants = append(c.Tenants, t)
			}
		}
	}
	for i := range out {
		slices.Sort(out[i].Tenants)
	}
	slices.SortStableFunc(out, func(a, b Case) int {
		if d := LevelRank(b.Severity) - LevelRank(a.Severity); d != 0 {
			return d
		}
		return a.First.Compare(b.First)
	})
	return out
}

// Label names the incident's rule for people: its name, else its title
// (SigmaHQ rules have ids and titles but no names), else its id.
func (inc *Incident) Label() string {
	switch {
	case inc.RuleName != "":
		return inc.RuleName
	case inc.Title != "":
		return inc.Title
	}
	return inc.Rule
}

// SortRecent orders cases for triage, as the dashboard and the API list
// them: most severe first, then the most recently active.
func SortRecent(cs []Case) {
	slices.SortStableFunc(cs, func(a, b Case) int {
		if d := LevelRank(b.Severity) - LevelRank(a.Severity); d != 0 {
			return d
		}
		return b.Last.Compare(a.Last)
	})
}
