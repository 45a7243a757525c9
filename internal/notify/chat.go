package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// ChatConfig configures a Slack- or Teams-compatible incoming webhook. The
// URL itself is the credential: it is never logged.
type ChatConfig struct {
	URL store.Secret `json:"url"`
}

// Slack posts Slack Block Kit messages (also accepted by Mattermost and
// Rocket.Chat incoming webhooks, which read "text").
type Slack struct {
	url  string
	opts Options
}

// NewSlack validates c.
func NewSlack(c ChatConfig, opts Options) (*Slack, error) {
	if err := checkURL(c.URL.Reveal()); err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	return &Slack{url: c.URL.Reveal(), opts: opts}, nil
}

// Kind implements Sender.
func (s *Slack) Kind() string { return store.TargetSlack }

// Send implements Sender.
func (s *Slack) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(SlackMessage(a))
	if err != nil {
		return &PermanentError{Err: err}
	}
	return postJSON(ctx, s.opts.client(), s.url, body, nil)
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// facts are the alert's key/value lines in display order.
func facts(a Alert) [][2]string {
	f := [][2]string{{"Severity", a.Severity}}
	if a.Tenant != "" {
		f = append(f, [2]string{"Tenant", a.Tenant})
	}
	if len(a.Tenants) > 1 {
		f = append(f, [2]string{"Tenants", strings.Join(a.Tenants, ", ")})
	}
	if a.Rule != "" {
		f = append(f, [2]string{"Rule", a.Rule})
	}
	if a.Count > 0 {
		f = append(f, [2]string{"Events", strconv.Itoa(a.Count)})
	}
	if a.Status != "" {
		f = append(f, [2]string{"Status", a.Status})
	}
	if !a.First.IsZero() {
		f = append(f, [2]string{"First seen", a.First.UTC().Format(time.RFC3339)})
	}
	if !a.Last.IsZero() {
		f = append(f, [2]string{"Last seen", a.Last.UTC().Format(time.RFC3339)})
	}
	keys := make([]string, 0, len(a.Fields))
	for k := range a.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f = append(f, [2]string{k, a.Fields[k]})
	}
	return f
}

// SlackMessage is the Slack incoming-webhook payload for a.
func SlackMessage(a Alert) map[string]any {
	title := fmt.Sprintf("[%s] %s", strings.ToUpper(a.Severity), a.Title)
	var fields []map[string]any
	for _, f := range facts(a) {
		if len(fields) == 10 { // Slack's limit per section
			break
		}
		fields = append(fields, map[string]any{"type": "mrkdwn", "text": "*" + slackEscape(f[0]) + "*\n" + slackEscape(f[1])})
	}
	blocks := []map[string]any{
		{"type": "header", "text": map[string]any{"type": "plain_text", "text": truncate(title, 150), "emoji": false}},
	}
	if a.Summary != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": truncate(slackEscape(a.Summary), 3000)}})
	}
	blocks = append(blocks, map[string]any{"type": "section", "fields": fields})
	if a.URL != "" {
		blocks = append(blocks, map[string]any{"type": "actions", "elements": []map[string]any{{
			"type": "button", "text": map[string]any{"type": "plain_text", "text": "Open in firebreak"}, "url": a.URL}}})
	}
	return map[string]any{"text": slackEscape(title), "blocks": blocks}
}

// Teams posts an Adaptive Card message, the payload Microsoft Teams
// incoming webhooks and Workflows ("Post to a channel when a webhook request
// is received") accept.
type Teams struct {
	url  string
	opts Options
}

// NewTeams validates c.
func NewTeams(c ChatConfig, opts Options) (*Teams, error) {
	if err := checkURL(c.URL.Reveal()); err != nil {
		return nil, fmt.Errorf("teams: %w", err)
	}
	return &Teams{url: c.URL.Reveal(), opts: opts}, nil
}

// Kind implements Sender.
func (t *Teams) Kind() string { return store.TargetTeams }

// Send implements Sender.
func (t *Teams) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(TeamsMessage(a))
	if err != nil {
		return &PermanentError{Err: err}
	}
	return postJSON(ctx, t.opts.client(), t.url, body, nil)
}

// TeamsMessage is the Teams payload for a: a message with one Adaptive Card.
func TeamsMessage(a Alert) map[string]any {
	color := "Default"
	switch severityRank(a.Severity) {
	case 5, 4:
		color = "Attention"
	case 3:
		color = "Warning"
	}
	var fs []map[string]any
	for _, f := range facts(a) {
		fs = append(fs, map[string]any{"title": f[0], "value": f[1]})
	}
	body := []map[string]any{
		{"type": "TextBlock", "text": fmt.Sprintf("[%s] %s", strings.ToUpper(a.Severity), a.Title), "weight": "Bolder", "size": "Medium", "color": color, "wrap": true},
	}
	if a.Summary != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": a.Summary, "wrap": true})
	}
	body = append(body, map[string]any{"type": "FactSet", "facts": fs})
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    body,
	}
	if a.URL != "" {
		card["actions"] = []map[string]any{{"type": "Action.OpenUrl", "title": "Open in firebreak", "url": a.URL}}
	}
	return map[string]any{
		"type": "message",
		"attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
