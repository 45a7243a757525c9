package export

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

// Send implements connector.Target: it.Body is one ECS document or a JSON
// array of them.
func (h *HEC) Send(ctx context.Context, it connector.Item) error { return sendItem(ctx, h, it) }

// Send implements connector.Target (see HEC.Send).
func (s *Sentinel) Send(ctx context.Context, it connector.Item) error { return sendItem(ctx, s, it) }

func sendItem(ctx context.Context, s Sender, it connector.Item) error {
	var docs []json.RawMessage
	if len(it.Body) > 0 && it.Body[0] == '[' {
		if err := json.Unmarshal(it.Body, &docs); err != nil {
			return connector.Permanent(fmt.Errorf("item %s: %w", it.Key, err))
		}
	} else {
		docs = []json.RawMessage{it.Body}
	}
	bs := make([][]byte, len(docs))
	for i, d := range docs {
		bs[i] = d
	}
	return s.SendBatch(ctx, bs)
}

var (
	_ connector.Target = (*HEC)(nil)
	_ connector.Target = (*Sentinel)(nil)
	_ Sender           = (*HEC)(nil)
	_ Sender           = (*Sentinel)(nil)
)

// HECDefinition registers Splunk HEC export.
func HECDefinition() connector.Definition {
	return connector.Definition{
		Spec: connector.Spec{
			Name: "splunk_hec", Title: "Splunk HTTP Event Collector",
			Summary:      "exports incidents, findings, cases and (optionally) events as ECS JSON to Splunk HEC",
			Capabilities: []connector.Capability{connector.CapOutbound},
			Config: []connector.Field{
				{Name: "url", Type: "string", Required: true, Doc: "HEC base URL, e.g. https://splunk.example:8088"},
				{Name: "token", Type: "secret", Required: true, Secret: true, Doc: "HEC token"},
				{Name: "index", Type: "string", Doc: "index (default: the token's default index)"},
				{Name: "sourcetype", Type: "string", Default: "firebreak:ecs", Doc: "sourcetype"},
				{Name: "host", Type: "string", Doc: "host field"},
				{Name: "max_batch_bytes", Type: "int", Default: "1048576", Doc: "largest request body"},
			},
			Permissions: []connector.Permission{{Name: "HEC token", Kind: "token", Doc: "an enabled HEC token allowed to write to the index"}},
			Calls:       []connector.Call{{Method: "POST", Path: "/services/collector/event", Permission: "HEC token", Note: "stacked JSON envelopes, ≤ max_batch_bytes"}},
			Docs:        []string{"https://help.splunk.com/splunk-enterprise/get-data-in/collect-http-event-data/format-events-for-http-event-collector"},
		},
		New: connector.Construct(NewHEC),
	}
}

// SentinelDefinition registers Microsoft Sentinel export.
func SentinelDefinition() connector.Definition {
	return connector.Definition{
		Spec: connector.Spec{
			Name: "sentinel", Title: "Microsoft Sentinel (Logs Ingestion API)",
			Summary:      "exports incidents, findings, cases and (optionally) events as ECS JSON to a Log Analytics table through a DCR",
			Capabilities: []connector.Capability{connector.CapOutbound},
			Config: []connector.Field{
				{Name: "tenant_id", Type: "string", Required: true, Doc: "Entra tenant of the app registration"},
				{Name: "client_id", Type: "string", Required: true, Doc: "app (client) id"},
				{Name: "client_secret", Type: "secret", Required: true, Secret: true, Doc: "app client secret"},
				{Name: "endpoint", Type: "string", Required: true, Doc: "data collection endpoint (logs ingestion URL)"},
				{Name: "dcr_immutable_id", Type: "string", Required: true, Doc: "the DCR's immutable id, dcr-…"},
				{Name: "stream", Type: "string", Required: true, Doc: "the DCR stream, e.g. Custom-Firebreak_CL"},
				{Name: "authority", Type: "string", Default: "https://login.microsoftonline.com", Doc: "Entra authority host (sovereign clouds)"},
				{Name: "api_version", Type: "string", Default: "2023-01-01", Doc: "Logs Ingestion API version"},
			},
			Permissions: []connector.Permission{{Name: sentinelPermission, Kind: "azure-rbac", Doc: "granted to the app registration on the DCR"}},
			Calls: []connector.Call{
				{Method: "POST", Path: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token", Note: "client credentials, scope https://monitor.azure.com//.default"},
				{Method: "POST", Path: "/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01", Permission: sentinelPermission, Note: "JSON array ≤ 1 MB"},
			},
			Docs: []string{
				"https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview",
				"https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow",
			},
		},
		New: connector.Construct(NewSentinel),
	}
}
