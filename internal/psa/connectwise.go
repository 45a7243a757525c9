package psa

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

// ConnectWiseConfig configures ConnectWise PSA (Manage) tickets.
//
// Vendor documentation followed: the ConnectWise PSA REST reference,
// https://developer.connectwise.com/Products/ConnectWise_PSA/REST
// (base https://{site}/v4_6_release/apis/3.0; "Authorization: Basic
// base64(company+publicKey:privateKey)" and a "clientId" header; POST
// /service/tickets with summary ≤ 100 characters, board, company,
// priority, status, initialDescription, externalXRef; PATCH
// /service/tickets/{id} with a JSON Patch array; POST
// /service/tickets/{id}/notes with text and internalAnalysisFlag /
// resolutionFlag; GET /service/tickets?conditions=… ; errors as
// {"code","message","errors":[{"code","message","field"}]}).
type ConnectWiseConfig struct {
	URL        string              `yaml:"url"`     // https://api-na.myconnectwise.net/v4_6_release/apis/3.0
	Company    string              `yaml:"company"` // the login company id
	PublicKey  string              `yaml:"public_key"`
	PrivateKey connector.SecretRef `yaml:"private_key"`
	ClientID   string              `yaml:"client_id"` // developer clientId (a GUID)
	// Board per severity ("default" for the rest), e.g. {critical: SOC, default: Security}.
	Boards map[string]string `yaml:"boards"`
	// Priorities: severity → priority name, e.g. {critical: "Priority 1 - Emergency Response"}.
	Priorities   map[string]string `yaml:"priorities"`
	OpenStatus   string            `yaml:"open_status,omitempty"`   // status for a (re)opened ticket, default "New"
	ClosedStatus string            `yaml:"closed_status,omitempty"` // default ">Closed"
}

// cwPermission is what the API member's security role must allow.
const cwPermission = "Service Desk > Service Tickets: Add, Edit and Inquire (API member security role)"

// ConnectWise is the ConnectWise PSA backend.
type ConnectWise struct {
	c      ConnectWiseConfig
	auth   string
	client *connector.Client
}

// NewConnectWise validates c and resolves its key.
func NewConnectWise(c ConnectWiseConfig, env connector.Env) (*ConnectWise, error) {
	for _, f := range []struct{ name, v string }{{"url", c.URL}, {"company", c.Company}, {"public_key", c.PublicKey}, {"client_id", c.ClientID}} {
		if f.v == "" {
			return nil, fmt.Errorf("connectwise: %s is required", f.name)
		}
	}
	if c.Boards["default"] == "" {
		return nil, fmt.Errorf("connectwise: boards.default is required (the service board tickets go to)")
	}
	key, err := c.PrivateKey.Resolve(env)
	if err != nil {
		return nil, fmt.Errorf("connectwise: private_key: %w", err)
	}
	if c.OpenStatus == "" {
		c.OpenStatus = "New"
	}
	if c.ClosedStatus == "" {
		c.ClosedStatus = ">Closed"
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Company+"+"+c.PublicKey+":"+string(key)))
	return &ConnectWise{c: c, auth: auth, client: connector.NewClient("connectwise", oneAttempt(env))}, nil
}

func (w *ConnectWise) call(ctx context.Context, method, path string, body any, v any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	_, err := w.client.JSON(ctx, connector.CallSpec{Method: method, URL: connector.JoinURL(w.c.URL, path), Body: b,
		Header:     http.Header{"Authorization": {w.auth}, "clientId": {w.c.ClientID}, "Content-Type": {"application/json"}},
		Permission: cwPermission}, v)
	return err
}

func pick(m map[string]string, sev string) string {
	if v := m[sev]; v != "" {
		return v
	}
	return m["default"]
}

type cwRef struct {
	ID         int    `json:"id,omitempty"`
	Name       string `json:"name,omitempty"`
	Identifier string `json:"identifier,omitempty"`
}

// Find implements Backend: the ticket whose externalXRef is t.Ref().
func (w *ConnectWise) Find(ctx context.Context, t *Ticket) (string, error) {
	var found []struct {
		ID int `json:"id"`
	}
	q := url.Values{"conditions": {`externalXRef="` + t.Ref() + `"`}, "fields": {"id"}, "pageSize": {"2"}}
	if err := w.call(ctx, http.MethodGet, "/service/tickets?"+q.Encode(), nil, &found); err != nil {
		return "", err
	}
	if len(found) == 0 {
		return "", nil
	}
	return strconv.Itoa(found[0].ID), nil
}

// Create implements Backend.
func (w *ConnectWise) Create(ctx context.Context, t *Ticket, company string) (string, error) {
	body := map[string]any{
		"summary": summary(t, 100), "initialDescription": t.Details, "externalXRef": t.Ref(),
		"board": cwRef{Name: pick(w.c.Boards, t.Severity)}, "company": cwRef{Identifier: company},
		"status": cwRef{Name: w.c.OpenStatus},
	}
	if p := pick(w.c.Priorities, t.Severity); p != "" {
		body["priority"] = cwRef{Name: p}
	}
	var created struct {
		ID int `json:"id"`
	}
	if err := w.call(ctx, http.MethodPost, "/service/tickets", body, &created); err != nil {
		return "", err
	}
	if created.ID == 0 {
		return "", fmt.Errorf("connectwise: the created ticket has no id")
	}
	return strconv.Itoa(created.ID), nil
}

// Update implements Backend.
func (w *ConnectWise) Update(ctx context.Context, id string, t *Ticket, company string) error {
	status := w.c.OpenStatus
	if !t.Open {
		status = w.c.ClosedStatus
	}
	ops := []map[string]any{
		{"op": "replace", "path": "summary", "value": summary(t, 100)},
		{"op": "replace", "path": "status", "value": cwRef{Name: status}},
	}
	if p := pick(w.c.Priorities, t.Severity); p != "" {
		ops = append(ops, map[string]any{"op": "replace", "path": "priority", "value": cwRef{Name: p}})
	}
	if t.Note != "" {
		// The note first: a closed ticket may refuse notes on some boards.
		note := map[string]any{"text": t.Note, "internalAnalysisFlag": true, "resolutionFlag": !t.Open}
		if err := w.call(ctx, http.MethodPost, "/service/tickets/"+url.PathEscape(id)+"/notes", note, nil); err != nil {
			return err
		}
	}
	return w.call(ctx, http.MethodPatch, "/service/tickets/"+url.PathEscape(id), ops, nil)
}

var _ Backend = (*ConnectWise)(nil)
