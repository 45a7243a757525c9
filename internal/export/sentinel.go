package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

// SentinelConfig configures Microsoft Sentinel export through the Azure
// Monitor Logs Ingestion API.
//
// Vendor documentation followed:
// https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview
// (POST {DCE}/dataCollectionRules/{DCR immutable id}/streams/{stream}
// ?api-version=2023-01-01 with a JSON array of records, at most 1 MB a
// call, 204 on success, 413 when larger, 429 with Retry-After) and
// https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
// (token from login.microsoftonline.com/{tenant}/oauth2/v2.0/token, scope
// https://monitor.azure.com//.default). The app registration needs the
// "Monitoring Metrics Publisher" role on the DCR.
type SentinelConfig struct {
	TenantID     string              `yaml:"tenant_id"`                 // Entra tenant of the app registration
	ClientID     string              `yaml:"client_id"`                 // app (client) id
	ClientSecret connector.SecretRef `yaml:"client_secret"`             // app secret
	Endpoint     string              `yaml:"endpoint"`                  // DCE logs ingestion URL, https://<dce>.<region>.ingest.monitor.azure.com
	DCR          string              `yaml:"dcr_immutable_id"`          // dcr-…
	Stream       string              `yaml:"stream"`                    // Custom-Firebreak_CL
	Authority    string              `yaml:"authority,omitempty"`       // default https://login.microsoftonline.com
	Scope        string              `yaml:"scope,omitempty"`           // default https://monitor.azure.com//.default
	APIVersion   string              `yaml:"api_version,omitempty"`     // default 2023-01-01
	MaxBatch     int                 `yaml:"max_batch_bytes,omitempty"` // default and maximum 1 MB
}

// sentinelPermission is the role the app registration needs on the DCR.
const sentinelPermission = "Monitoring Metrics Publisher (role on the data collection rule)"

// Sentinel sends batches to the Logs Ingestion API.
type Sentinel struct {
	url      string
	tokens   *connector.TokenSource
	client   *connector.Client
	maxBytes int
	buf      bytes.Buffer
}

// NewSentinel validates c and resolves its secret.
func NewSentinel(c SentinelConfig, env connector.Env) (*Sentinel, error) {
	for _, f := range []struct{ name, v string }{{"tenant_id", c.TenantID}, {"client_id", c.ClientID}, {"endpoint", c.Endpoint}, {"dcr_immutable_id", c.DCR}, {"stream", c.Stream}} {
		if f.v == "" {
			return nil, fmt.Errorf("sentinel: %s is required", f.name)
		}
	}
	sec, err := c.ClientSecret.Resolve(env)
	if err != nil {
		return nil, fmt.Errorf("sentinel: client_secret: %w", err)
	}
	if c.Authority == "" {
		c.Authority = "https://login.microsoftonline.com"
	}
	if c.Scope == "" {
		c.Scope = "https://monitor.azure.com//.default"
	}
	if c.APIVersion == "" {
		c.APIVersion = "2023-01-01"
	}
	if c.MaxBatch <= 0 || c.MaxBatch > 1<<20 {
		c.MaxBatch = 1 << 20
	}
	client := connector.NewClient("sentinel", env)
	ts := &connector.TokenSource{Client: client, URL: connector.JoinURL(c.Authority, url.PathEscape(c.TenantID)+"/oauth2/v2.0/token"),
		Form:   url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {string(sec)}, "scope": {c.Scope}},
		Tenant: c.TenantID, Permission: "a valid client secret for app " + c.ClientID}
	u := connector.JoinURL(c.Endpoint, "/dataCollectionRules/"+url.PathEscape(c.DCR)+"/streams/"+url.PathEscape(c.Stream)) + "?api-version=" + url.QueryEscape(c.APIVersion)
	return &Sentinel{url: u, tokens: ts, client: client, maxBytes: c.MaxBatch}, nil
}

// MaxBatch implements Sender: each record wraps its document in columns
// (at most 512 bytes with a long tenant id), and the array must stay under
// 1 MB.
func (s *Sentinel) MaxBatch() (int, int, int) { return s.maxBytes - 2, 5000, 512 }

// record is one row of the DCR stream (see docs/connectors.md for the
// stream declaration): the columns a workbook filters on, and the whole
// ECS document as a dynamic column.
type record struct {
	TimeGenerated  string          `json:"TimeGenerated"`
	EventKind      string          `json:"EventKind"`
	EventDataset   string          `json:"EventDataset"`
	OrganizationID string          `json:"OrganizationId,omitempty"`
	Document       json.RawMessage `json:"Document"`
}

// SendBatch implements Sender (one request after the token).
func (s *Sentinel) SendBatch(ctx context.Context, docs [][]byte) error {
	s.buf.Reset()
	s.buf.WriteByte('[')
	for i, d := range docs {
		var head struct {
			TS    string `json:"@timestamp"`
			Event struct {
				Kind    string `json:"kind"`
				Dataset string `json:"dataset"`
			} `json:"event"`
			Org struct {
				ID string `json:"id"`
			} `json:"organization"`
		}
		if err := json.Unmarshal(d, &head); err != nil {
			return connector.Permanent(fmt.Errorf("sentinel: document %d of the batch is not JSON: %w", i, err))
		}
		b, _ := json.Marshal(record{TimeGenerated: head.TS, EventKind: head.Event.Kind, EventDataset: head.Event.Dataset, OrganizationID: head.Org.ID, Document: d})
		if i > 0 {
			s.buf.WriteByte(',')
		}
		s.buf.Write(b)
	}
	s.buf.WriteByte(']')
	if s.buf.Len() > 1<<20 {
		return connector.Permanent(fmt.Errorf("sentinel: batch of %d bytes is over the 1 MB limit of one call", s.buf.Len()))
	}
	_, err := s.client.JSON(ctx, connector.CallSpec{Method: http.MethodPost, URL: s.url, Body: s.buf.Bytes(),
		Header: http.Header{"Content-Type": {"application/json"}}, Auth: s.tokens.Auth(), Permission: sentinelPermission}, nil)
	return err
}
