package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

// HECConfig configures Splunk HTTP Event Collector export.
//
// Vendor documentation followed:
// https://help.splunk.com/splunk-enterprise/get-data-in/collect-http-event-data/format-events-for-http-event-collector
// (endpoint /services/collector/event, "Authorization: Splunk <token>",
// several {"time","host","source","sourcetype","index","event"} objects
// stacked in one body; answers {"text","code"}: 0 success, 2 token
// required, 4 invalid token, 6 invalid data format with
// "invalid-event-number", 9 server busy).
type HECConfig struct {
	URL        string              `yaml:"url"`   // https://splunk.example:8088
	Token      connector.SecretRef `yaml:"token"` // HEC token
	Index      string              `yaml:"index,omitempty"`
	SourceType string              `yaml:"sourcetype,omitempty"` // default "firebreak:ecs"
	Host       string              `yaml:"host,omitempty"`
	// MaxBatchBytes bounds one request (default 1 MB, HEC's historical
	// max_content_length).
	MaxBatchBytes int `yaml:"max_batch_bytes,omitempty"`
}

// HEC sends batches to Splunk HEC.
type HEC struct {
	url      string
	token    connector.Secret
	prefix   []byte // {"source":…,"sourcetype":…,"index":…,"host":…,
	maxBytes int
	client   *connector.Client
	buf      bytes.Buffer
}

// NewHEC validates c and resolves its token.
func NewHEC(c HECConfig, env connector.Env) (*HEC, error) {
	if c.URL == "" {
		return nil, fmt.Errorf("splunk_hec: url is required")
	}
	tok, err := c.Token.Resolve(env)
	if err != nil {
		return nil, fmt.Errorf("splunk_hec: token: %w", err)
	}
	if c.SourceType == "" {
		c.SourceType = "firebreak:ecs"
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 1 << 20
	}
	meta := map[string]string{"source": "firebreak", "sourcetype": c.SourceType}
	if c.Index != "" {
		meta["index"] = c.Index
	}
	if c.Host != "" {
		meta["host"] = c.Host
	}
	m, _ := json.Marshal(meta)
	prefix := append(m[:len(m)-1:len(m)-1], ',')
	return &HEC{url: connector.JoinURL(c.URL, "/services/collector/event"), token: tok, prefix: prefix,
		maxBytes: c.MaxBatchBytes, client: connector.NewClient("splunk_hec", env)}, nil
}

// MaxBatch implements Sender: the envelope is the metadata prefix, the
// time (at most 32 bytes with its key) and "event":…}.
func (h *HEC) MaxBatch() (int, int, int) {
	return h.maxBytes, 10000, len(h.prefix) + 32 + len(`"event":}`)
}

// docTime reads the leading "@timestamp" AppendECS writes, for HEC's time
// field (epoch seconds); ok is false for other documents.
func docTime(doc []byte) (time.Time, bool) {
	const p = `{"@timestamp":"`
	if !bytes.HasPrefix(doc, []byte(p)) {
		return time.Time{}, false
	}
	rest := doc[len(p):]
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:i]))
	return t, err == nil
}

// SendBatch implements Sender (one request, not retried here).
func (h *HEC) SendBatch(ctx context.Context, docs [][]byte) error {
	h.buf.Reset()
	for _, d := range docs {
		h.buf.Write(h.prefix)
		if t, ok := docTime(d); ok {
			h.buf.WriteString(`"time":`)
			h.buf.Write(strconv.AppendFloat(nil, float64(t.UnixMilli())/1000, 'f', 3, 64))
			h.buf.WriteByte(',')
		}
		h.buf.WriteString(`"event":`)
		h.buf.Write(d)
		h.buf.WriteByte('}')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(h.buf.Bytes()))
	if err != nil {
		return connector.Permanent(err)
	}
	req.Header.Set("Authorization", "Splunk "+string(h.token))
	req.Header.Set("Content-Type", "application/json")
	status, hdr, body, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("splunk_hec: %w", err)
	}
	return hecAnswer(status, hdr, body, h.client)
}

// hecAnswer classifies a HEC answer.
func hecAnswer(status int, hdr http.Header, body []byte, c *connector.Client) error {
	if status >= 200 && status < 300 {
		return nil
	}
	var a struct {
		Text    string `json:"text"`
		Code    int    `json:"code"`
		Invalid *int   `json:"invalid-event-number"`
	}
	e := &connector.APIError{Service: "splunk_hec", Path: "/services/collector/event", Status: status}
	if json.Unmarshal(body, &a) == nil && a.Text != "" {
		e.Code, e.Message = "HEC code "+strconv.Itoa(a.Code), a.Text
		if a.Invalid != nil {
			e.Message += fmt.Sprintf(" (event %d of the batch)", *a.Invalid)
		}
	} else {
		e.Code, e.Message = "NonJSONError", connector.Snippet(body)
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		e.Permission = "a valid, enabled HEC token allowed to write to the index"
		return e // kept and retried: fixing the token must not lose data
	}
	if connector.Transient(status) {
		if d, ok := connector.ParseRetryAfter(hdr.Get("Retry-After"), time.Now()); ok {
			return connector.After(e, d)
		}
		return e
	}
	return connector.Permanent(e)
}
