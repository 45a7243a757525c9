// Package psa turns failing controls, incidents, cases and the steps of the
// remediation queue into PSA tickets — ConnectWise PSA and HaloPSA — one
// ticket per finding, case or step, updated instead of duplicated, noted
// and closed when the control passes again (the step is done).
//
// Every change goes through the store's outbox (store.OutboxStore): Plan
// records each ticket's desired state, Flush delivers what changed and
// acknowledges the version it delivered, so a restart neither loses nor
// repeats a change. A ticket the PSA rejects stays in the outbox with its
// error, retried with backoff, and is listed by ListOutbox. A create whose
// answer was lost (a crash, a timeout) is found again by its reference
// before a second one is made.
//
// Builds on internal/connector; imports store (the outbox), assess and
// event (what tickets are made from). Imported by the server and the CLI.
package psa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// Ticket is the desired state of one PSA ticket (the outbox body).
type Ticket struct {
	Key      string `json:"key"`    // one ticket per key
	Kind     string `json:"kind"`   // finding, incident, case
	Tenant   string `json:"tenant"` // estate tenant id ("msp" for the MSP's own)
	Title    string `json:"title"`
	Severity string `json:"severity"` // critical, high, medium, low, info
	Details  string `json:"details"`
	Open     bool   `json:"open"`
	// Note is added to the ticket with this version ("control passes
	// again on …"); empty for none.
	Note string `json:"note,omitempty"`
}

// Ref is the short reference firebreak puts on a ticket so a lost create
// is found again: "fb-" and 16 hex digits of the key's SHA-256.
func (t *Ticket) Ref() string {
	h := sha256.Sum256([]byte(t.Key))
	return "fb-" + hex.EncodeToString(h[:8])
}

// Backend is one PSA's ticket API (one attempt per call; Flush retries).
type Backend interface {
	// Find returns the id of the ticket carrying t.Ref(), "" when none.
	Find(ctx context.Context, t *Ticket) (string, error)
	// Create opens a ticket for company and returns its id.
	Create(ctx context.Context, t *Ticket, company string) (string, error)
	// Update brings ticket id to t (summary, priority, open or closed)
	// and adds t.Note.
	Update(ctx context.Context, id string, t *Ticket, company string) error
}

// Syncer keeps one PSA's tickets in step with firebreak.
type Syncer struct {
	Target    string            // outbox target name (the config key)
	Backend   Backend           //
	Outbox    store.OutboxStore //
	Companies map[string]string // estate tenant → PSA company (ConnectWise identifier, Halo client id)
	// Concurrency bounds tickets delivered at once (default 4).
	Concurrency int
	Retry       connector.Retry // Base/Max bound the wait before a failed ticket is retried (default 1 min, 1 h)
	Now         func() time.Time
	Log         *slog.Logger
}

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Plan records the desired state of tickets of one kind. With complete
// set, tickets is every open ticket of that kind: any ticket of that kind
// open in the outbox but absent from tickets is closed with a note (the
// control passes again, the case was resolved). Returns how many changed.
func (s *Syncer) Plan(ctx context.Context, kind string, tickets []Ticket, complete bool) (int, error) {
	changed := 0
	seen := make(map[string]bool, len(tickets))
	for i := range tickets {
		t := &tickets[i]
		if t.Kind == "" {
			t.Kind = kind
		}
		seen[t.Key] = true
		ok, err := s.put(ctx, t)
		if err != nil {
			return changed, err
		}
		if ok {
			changed++
		}
	}
	if !complete {
		return changed, nil
	}
	rows, err := s.Outbox.ListOutbox(ctx, store.AllTenants(), store.OutboxFilter{Target: s.Target, Limit: 10000})
	if err != nil {
		return changed, err
	}
	for _, r := range rows {
		if r.Kind != kind || seen[r.Key] {
			continue
		}
		var t Ticket
		if err := json.Unmarshal(r.Body, &t); err != nil || !t.Open {
			continue
		}
		t.Open = false
		t.Note = closingNote(kind, s.now())
		ok, err := s.put(ctx, &t)
		if err != nil {
			return changed, err
		}
		if ok {
			changed++
		}
	}
	return changed, nil
}

func closingNote(kind string, at time.Time) string {
	switch kind {
	case "finding":
		return "firebreak: the control passes again (assessed " + at.UTC().Format(time.RFC3339) + "); closing."
	case "remediation":
		return "firebreak: the step is done — the assessment no longer finds the path it cuts (" + at.UTC().Format(time.RFC3339) + "); closing."
	default:
		return "firebreak: the " + kind + " was resolved (" + at.UTC().Format(time.RFC3339) + "); closing."
	}
}

func (s *Syncer) put(ctx context.Context, t *Ticket) (bool, error) {
	body, err := json.Marshal(t)
	if err != nil {
		return false, err
	}
	it := store.OutboxItem{Target: s.Target, Key: t.Key, Kind: t.Kind, Tenant: t.Tenant, Body: body}
	return s.Outbox.PutOutbox(ctx, &it)
}

// Result counts what one Flush did.
type Result struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
	Closed  int `json:"closed"`
	Found   int `json:"found"`   // lost creates found again by their reference
	Skipped int `json:"skipped"` // closed before a ticket was ever made: nothing to do
	Failed  int `json:"failed"`  // kept in the outbox, retried later
}

// Flush delivers every due outbox row of the target. Failures are
// recorded on their rows (and counted); the error is for a store failure
// or ctx ending.
func (s *Syncer) Flush(ctx context.Context) (Result, error) {
	var res Result
	var mu sync.Mutex
	n := s.Concurrency
	if n <= 0 {
		n = 4
	}
	r := s.Retry
	if r.Base <= 0 {
		r.Base = time.Minute
	}
	if r.Max <= 0 {
		r.Max = time.Hour
	}
	r = r.WithDefaults()
	for {
		due, err := s.Outbox.DueOutbox(ctx, s.Target, s.now(), 256)
		if err != nil {
			return res, err
		}
		if len(due) == 0 {
			return res, nil
		}
		sem := make(chan struct{}, n)
		var wg sync.WaitGroup
		var storeErr error
		for _, row := range due {
			sem <- struct{}{}
			wg.Add(1)
			go func(row store.OutboxItem) {
				defer wg.Done()
				defer func() { <-sem }()
				what, remote, err := s.deliver(ctx, &row)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					res.Failed++
					next := s.now().Add(r.Backoff(row.Attempts + 1))
					var ra *connector.RetryAfterError
					if errors.As(err, &ra) {
						next = s.now().Add(min(ra.After, r.Max))
					}
					if ferr := s.Outbox.FailOutbox(ctx, s.Target, row.Key, err.Error(), next); ferr != nil {
						storeErr = ferr
					}
					s.log().Warn("psa: ticket not delivered, kept in the outbox", "target", s.Target, "key", row.Key, "err", err)
					return
				}
				switch what {
				case "created":
					res.Created++
				case "found":
					res.Found++
				case "closed":
					res.Closed++
				case "skipped":
					res.Skipped++
				default:
					res.Updated++
				}
				if aerr := s.Outbox.AckOutbox(ctx, s.Target, row.Key, row.Version, remote); aerr != nil {
					storeErr = aerr
				}
			}(row)
		}
		wg.Wait()
		if storeErr != nil {
			return res, storeErr
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
}

func (s *Syncer) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// ErrNoCompany is a tenant without a PSA company in the mapping.
var ErrNoCompany = errors.New("no PSA company is mapped to this tenant (companies: in the target's configuration)")

// deliver makes one row's change at the PSA.
func (s *Syncer) deliver(ctx context.Context, row *store.OutboxItem) (what, remote string, err error) {
	var t Ticket
	if err := json.Unmarshal(row.Body, &t); err != nil {
		return "", "", fmt.Errorf("outbox body: %w", err)
	}
	company, ok := s.Companies[t.Tenant]
	if !ok {
		company, ok = s.Companies["*"]
	}
	if !ok {
		return "", "", fmt.Errorf("tenant %s: %w", t.Tenant, ErrNoCompany)
	}
	id := row.Remote
	if id == "" {
		id, err = s.Backend.Find(ctx, &t)
		if err != nil {
			return "", "", err
		}
		if id == "" {
			if !t.Open {
				return "skipped", "", nil
			}
			id, err = s.Backend.Create(ctx, &t, company)
			if err != nil {
				return "", "", err
			}
			if t.Note == "" {
				return "created", id, nil
			}
			// A note that came with the first version goes on as an update.
			return "created", id, s.Backend.Update(ctx, id, &t, company)
		}
		if err := s.Backend.Update(ctx, id, &t, company); err != nil {
			return "", id, err
		}
		return "found", id, nil
	}
	if err := s.Backend.Update(ctx, id, &t, company); err != nil {
		return "", "", err
	}
	if !t.Open {
		return "closed", id, nil
	}
	return "updated", id, nil
}

// FindingTickets makes one ticket per failing result of a report (its key:
// subject, control and object), for Plan(ctx, "finding", …, true).
func FindingTickets(rep *assess.Report) []Ticket {
	var out []Ticket
	for _, r := range rep.Results {
		if r.Status != assess.StatusFail {
			continue
		}
		key := "finding/" + r.Subject + "/" + r.Control
		if r.Object != "" {
			key += "/" + r.Object
		}
		var d strings.Builder
		fmt.Fprintf(&d, "%s\n\nControl %s (advisory heading %d), severity %s.\n", r.Message, r.Control, r.Heading, r.Severity)
		if r.Object != "" {
			fmt.Fprintf(&d, "Object: %s\n", r.Object)
		}
		if r.Remediation != "" {
			fmt.Fprintf(&d, "\nRemediation: %s\n", r.Remediation)
		}
		title := r.Control + ": " + r.Title
		if r.Object != "" {
			title += " (" + r.Object + ")"
		}
		out = append(out, Ticket{Key: key, Kind: "finding", Tenant: r.Subject, Title: title, Severity: r.Severity, Details: d.String(), Open: true})
	}
	slices.SortFunc(out, func(a, b Ticket) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// IncidentTicket makes the ticket of a stored incident (or case): open
// unless resolved.
func IncidentTicket(inc *store.Incident, kind string) Ticket {
	if kind == "" {
		kind = "incident"
	}
	open := inc.Status != store.StatusResolved
	d := fmt.Sprintf("%s\n\nRule %s, severity %s, %d events from %s to %s.\nStatus in firebreak: %s.",
		inc.Title, inc.Rule, inc.Severity, inc.Count, inc.First.UTC().Format(time.RFC3339), inc.Last.UTC().Format(time.RFC3339), inc.Status)
	if len(inc.Tenants) > 1 {
		d += "\nTenants involved: " + strings.Join(inc.Tenants, ", ")
	}
	t := Ticket{Key: kind + "/" + inc.ID, Kind: kind, Tenant: inc.Tenant, Title: inc.Title, Severity: inc.Severity, Details: d, Open: open}
	if !open {
		t.Note = closingNote(kind, inc.Updated)
	}
	return t
}

// CaseTicket makes the ticket of a case (one attacker, every rule it
// tripped): open while the case has open incidents. A case spanning
// several tenants is the MSP's ("msp" in the company mapping, else "*").
func CaseTicket(c *detect.Case) Ticket {
	tenant := "msp"
	if len(c.Tenants) == 1 {
		tenant = c.Tenants[0]
	}
	var d strings.Builder
	fmt.Fprintf(&d, "%s\n\nAttacker: %s\nRules: %s\nIncidents: %s\n%d events from %s to %s.\n", c.Title, c.Attacker,
		strings.Join(c.Rules, ", "), strings.Join(c.IncidentIDs, ", "), c.Events, c.First.UTC().Format(time.RFC3339), c.Last.UTC().Format(time.RFC3339))
	if len(c.Tenants) > 1 {
		fmt.Fprintf(&d, "Tenants: %s\n", strings.Join(c.Tenants, ", "))
	}
	return Ticket{Key: "case/" + c.ID, Kind: "case", Tenant: tenant, Title: c.Title + " (" + c.Attacker + ")", Severity: c.Severity, Details: d.String(), Open: true}
}

// RemediationTickets makes one ticket per step of the remediation queue
// (the fix-first plan, store.RemediationStore), for Plan(ctx,
// "remediation", …, true): the MSP's work ("msp" in the company mapping,
// else "*"), open until the step is done — when the assessment no longer
// finds its path — with the action, the tenants it makes safer, the
// exposure it removes, its proof path, the controls it fixes, and the
// owner, due date and state set on the dashboard. The first three steps
// are high, the rest medium (the queue is ranked by the exposure removed).
func RemediationTickets(q []store.Remediation) []Ticket {
	out := make([]Ticket, 0, len(q))
	for _, it := range q {
		var d strings.Builder
		fmt.Fprintf(&d, "Fix first, step %d: %s\n\n", it.Rank, it.Action)
		fmt.Fprintf(&d, "Tenants made safer (%d): %s\n", len(it.Tenants), strings.Join(it.Tenants, ", "))
		fmt.Fprintf(&d, "Exposure removed: %d\n", it.Gain)
		if it.Proof != "" {
			fmt.Fprintf(&d, "Proof path: %s\n", it.Proof)
		}
		if len(it.Controls) > 0 {
			fmt.Fprintf(&d, "Controls it fixes: %s\n", strings.Join(it.Controls, ", "))
		}
		if it.Owner != "" {
			fmt.Fprintf(&d, "Owner in firebreak: %s\n", it.Owner)
		}
		if !it.Due.IsZero() {
			fmt.Fprintf(&d, "Due: %s\n", it.Due.UTC().Format("2006-01-02"))
		}
		fmt.Fprintf(&d, "State in firebreak: %s\n", it.State)
		sev := "medium"
		if it.Rank <= 3 {
			sev = "high"
		}
		t := Ticket{Key: "remediation/" + it.Key, Kind: "remediation", Tenant: "msp", Title: fmt.Sprintf("Fix first #%d: %s", it.Rank, it.Action),
			Severity: sev, Details: d.String(), Open: it.State != store.RemediationDone}
		if !t.Open {
			t.Note = closingNote("remediation", it.DoneAt)
		}
		out = append(out, t)
	}
	return out
}

// summary is the ticket subject: title cut to limit runes.
func summary(t *Ticket, limit int) string {
	s := strings.Join(strings.Fields(t.Title), " ")
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit-1]) + "…"
	}
	return s
}

// oneAttempt makes every PSA call a single attempt: a create is not
// idempotent, so it is retried by Flush (which looks the ticket up by its
// reference first), never blindly by the client.
func oneAttempt(env connector.Env) connector.Env {
	env.Retry.Attempts = 1
	return env
}

// ConnectWiseDefinition registers ConnectWise PSA tickets.
func ConnectWiseDefinition() connector.Definition {
	return connector.Definition{
		Spec: connector.Spec{
			Name: "connectwise", Title: "ConnectWise PSA",
			Summary:      "one service ticket per failing control or incident, updated, noted and closed by firebreak",
			Capabilities: []connector.Capability{connector.CapOutbound},
			Config: []connector.Field{
				{Name: "url", Type: "string", Required: true, Doc: "https://{site}/v4_6_release/apis/3.0"},
				{Name: "company", Type: "string", Required: true, Doc: "login company id"},
				{Name: "public_key", Type: "string", Required: true, Doc: "API member public key"},
				{Name: "private_key", Type: "secret", Required: true, Secret: true, Doc: "API member private key"},
				{Name: "client_id", Type: "string", Required: true, Doc: "developer clientId"},
				{Name: "boards", Type: "map", Required: true, Doc: "severity → service board (default: the rest)"},
				{Name: "priorities", Type: "map", Doc: "severity → priority name"},
				{Name: "open_status", Type: "string", Default: "New", Doc: "status of an open ticket"},
				{Name: "closed_status", Type: "string", Default: ">Closed", Doc: "status that closes a ticket"},
			},
			Permissions: []connector.Permission{{Name: cwPermission, Kind: "admin-role"}},
			Calls: []connector.Call{
				{Method: "GET", Path: `/service/tickets?conditions=externalXRef="fb-…"`, Permission: cwPermission, Note: "finds a ticket whose create answer was lost"},
				{Method: "POST", Path: "/service/tickets", Permission: cwPermission},
				{Method: "PATCH", Path: "/service/tickets/{id}", Permission: cwPermission},
				{Method: "POST", Path: "/service/tickets/{id}/notes", Permission: cwPermission},
			},
			Docs: []string{"https://developer.connectwise.com/Products/ConnectWise_PSA/REST"},
		},
		New: connector.Construct(NewConnectWise),
	}
}

// HaloDefinition registers HaloPSA tickets.
func HaloDefinition() connector.Definition {
	return connector.Definition{
		Spec: connector.Spec{
			Name: "halopsa", Title: "HaloPSA",
			Summary:      "one ticket per failing control or incident, updated, noted and closed by firebreak",
			Capabilities: []connector.Capability{connector.CapOutbound},
			Config: []connector.Field{
				{Name: "url", Type: "string", Required: true, Doc: "https://{instance}.halopsa.com"},
				{Name: "auth_url", Type: "string", Doc: "authorisation server (default <url>/auth)"},
				{Name: "tenant", Type: "string", Doc: "hosted tenant name"},
				{Name: "client_id", Type: "string", Required: true, Doc: "API application client id"},
				{Name: "client_secret", Type: "secret", Required: true, Secret: true, Doc: "API application secret"},
				{Name: "teams", Type: "map", Required: true, Doc: "severity → team (default: the rest)"},
				{Name: "priorities", Type: "map", Doc: "severity → priority_id"},
				{Name: "closed_status_id", Type: "int", Default: "9", Doc: "status that closes a ticket"},
			},
			Permissions: []connector.Permission{{Name: haloPermission, Kind: "oauth-scope"}},
			Calls: []connector.Call{
				{Method: "POST", Path: "/auth/token", Note: "client credentials"},
				{Method: "GET", Path: "/api/Tickets?search=fb-…", Permission: haloPermission},
				{Method: "POST", Path: "/api/Tickets", Permission: haloPermission},
				{Method: "POST", Path: "/api/Actions", Permission: haloPermission},
			},
			Docs: []string{"https://halopsa.com/apidoc/"},
		},
		New: connector.Construct(NewHalo),
	}
}
