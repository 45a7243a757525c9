package psa

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

// HaloConfig configures HaloPSA tickets.
//
// Vendor documentation followed: the HaloPSA API reference served by
// every instance at https://{instance}/apidoc (authorisation: POST
// {auth}/token with grant_type=client_credentials, client_id,
// client_secret, scope, and ?tenant= for hosted instances; tickets:
// POST /api/Tickets with an array — no id creates, an id updates — of
// {summary, details, client_id, priority_id, team, status_id}; GET
// /api/Tickets?search=… returns {record_count, tickets:[…]}; notes: POST
// /api/Actions with [{ticket_id, note, outcome, hiddenfromuser}]).
type HaloConfig struct {
	URL          string              `yaml:"url"`                // https://acme.halopsa.com
	AuthURL      string              `yaml:"auth_url,omitempty"` // default <url>/auth
	Tenant       string              `yaml:"tenant,omitempty"`   // hosted tenant name, sent as ?tenant=
	ClientID     string              `yaml:"client_id"`
	ClientSecret connector.SecretRef `yaml:"client_secret"`
	Scope        string              `yaml:"scope,omitempty"` // default "all"
	// Teams per severity ("default" for the rest): the queue tickets go to.
	Teams map[string]string `yaml:"teams"`
	// Priorities: severity → priority_id.
	Priorities     map[string]int `yaml:"priorities"`
	TicketTypeID   int            `yaml:"ticket_type_id,omitempty"`
	OpenStatusID   int            `yaml:"open_status_id,omitempty"`   // default 1 (New)
	ClosedStatusID int            `yaml:"closed_status_id,omitempty"` // default 9 (Closed)
}

const haloPermission = "API application with permission to read and edit tickets (scope all, or edit:tickets read:tickets)"

// Halo is the HaloPSA backend.
type Halo struct {
	c      HaloConfig
	tokens *connector.TokenSource
	client *connector.Client
}

// NewHalo validates c and resolves its secret.
func NewHalo(c HaloConfig, env connector.Env) (*Halo, error) {
	if c.URL == "" || c.ClientID == "" {
		return nil, fmt.Errorf("halopsa: url and client_id are required")
	}
	if c.Teams["default"] == "" {
		return nil, fmt.Errorf("halopsa: teams.default is required (the team tickets go to)")
	}
	sec, err := c.ClientSecret.Resolve(env)
	if err != nil {
		return nil, fmt.Errorf("halopsa: client_secret: %w", err)
	}
	if c.AuthURL == "" {
		c.AuthURL = connector.JoinURL(c.URL, "/auth")
	}
	if c.Scope == "" {
		c.Scope = "all"
	}
	if c.OpenStatusID == 0 {
		c.OpenStatusID = 1
	}
	if c.ClosedStatusID == 0 {
		c.ClosedStatusID = 9
	}
	client := connector.NewClient("halopsa", oneAttempt(env))
	tokURL := connector.JoinURL(c.AuthURL, "/token")
	if c.Tenant != "" {
		tokURL += "?tenant=" + url.QueryEscape(c.Tenant)
	}
	ts := &connector.TokenSource{Client: client, URL: tokURL, Permission: haloPermission,
		Form: url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {string(sec)}, "scope": {c.Scope}}}
	return &Halo{c: c, tokens: ts, client: client}, nil
}

func (h *Halo) call(ctx context.Context, method, path string, body any, v any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	_, err := h.client.JSON(ctx, connector.CallSpec{Method: method, URL: connector.JoinURL(h.c.URL, path), Body: b,
		Header: http.Header{"Content-Type": {"application/json"}}, Auth: h.tokens.Auth(), Permission: haloPermission}, v)
	return err
}

// haloSummary carries the reference, which Halo's ticket search matches.
func haloSummary(t *Ticket) string { return summary(t, 230) + " [" + t.Ref() + "]" }

// Find implements Backend: a ticket whose summary carries t.Ref().
func (h *Halo) Find(ctx context.Context, t *Ticket) (string, error) {
	var page struct {
		Tickets []struct {
			ID      int    `json:"id"`
			Summary string `json:"summary"`
		} `json:"tickets"`
	}
	q := url.Values{"search": {t.Ref()}, "pageinate": {"true"}, "page_size": {"5"}, "page_no": {"1"}}
	if err := h.call(ctx, http.MethodGet, "/api/Tickets?"+q.Encode(), nil, &page); err != nil {
		return "", err
	}
	for _, tk := range page.Tickets {
		if strings.Contains(tk.Summary, "["+t.Ref()+"]") {
			return strconv.Itoa(tk.ID), nil
		}
	}
	return "", nil
}

func (h *Halo) ticket(t *Ticket, company string, id string) (map[string]any, error) {
	m := map[string]any{"summary": haloSummary(t), "team": pick(h.c.Teams, t.Severity)}
	if id == "" {
		cid, err := strconv.Atoi(company)
		if err != nil {
			return nil, fmt.Errorf("halopsa: company %q: want the numeric client_id", company)
		}
		m["client_id"], m["details"] = cid, t.Details
		if h.c.TicketTypeID != 0 {
			m["tickettype_id"] = h.c.TicketTypeID
		}
	} else {
		n, err := strconv.Atoi(id)
		if err != nil {
			return nil, fmt.Errorf("halopsa: ticket id %q is not a number", id)
		}
		m["id"] = n
	}
	if p, ok := h.c.Priorities[t.Severity]; ok {
		m["priority_id"] = p
	} else if p, ok := h.c.Priorities["default"]; ok {
		m["priority_id"] = p
	}
	if t.Open {
		m["status_id"] = h.c.OpenStatusID
	} else {
		m["status_id"] = h.c.ClosedStatusID
	}
	return m, nil
}

// haloID reads the id of a created ticket: Halo answers the object, or
// an array of them.
func haloID(raw json.RawMessage) (int, error) {
	var one struct {
		ID int `json:"id"`
	}
	if len(raw) > 0 && raw[0] == '[' {
		var many []struct {
			ID int `json:"id"`
		}
		if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 {
			return 0, fmt.Errorf("halopsa: the answer to a create holds no ticket")
		}
		return many[0].ID, nil
	}
	if err := json.Unmarshal(raw, &one); err != nil {
		return 0, err
	}
	return one.ID, nil
}

// Create implements Backend.
func (h *Halo) Create(ctx context.Context, t *Ticket, company string) (string, error) {
	m, err := h.ticket(t, company, "")
	if err != nil {
		return "", connector.Permanent(err)
	}
	var raw json.RawMessage
	if err := h.call(ctx, http.MethodPost, "/api/Tickets", []any{m}, &raw); err != nil {
		return "", err
	}
	id, err := haloID(raw)
	if err != nil || id == 0 {
		return "", fmt.Errorf("halopsa: the created ticket has no id")
	}
	return strconv.Itoa(id), nil
}

// Update implements Backend.
func (h *Halo) Update(ctx context.Context, id string, t *Ticket, company string) error {
	m, err := h.ticket(t, company, id)
	if err != nil {
		return connector.Permanent(err)
	}
	if t.Note != "" {
		outcome := "Note"
		if !t.Open {
			outcome = "Resolved"
		}
		act := []any{map[string]any{"ticket_id": m["id"], "note": t.Note, "outcome": outcome, "hiddenfromuser": true}}
		if err := h.call(ctx, http.MethodPost, "/api/Actions", act, nil); err != nil {
			return err
		}
	}
	return h.call(ctx, http.MethodPost, "/api/Tickets", []any{m}, nil)
}

var _ Backend = (*Halo)(nil)
