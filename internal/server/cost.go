package server

import (
	"context"
	"net/http"
	"time"
)

// costClass says what a route may spend beyond a lookup. Every route
// declares one in routeCosts; TestRouteCosts fails on a route without.
type costClass int

const (
	// costLookup: reads by key or index, one bounded page, or a small
	// write; no limit beyond the body cap every route has.
	costLookup costClass = iota + 1
	// costAuth: a password hash, a TOTP or passkey check: bounded by the
	// per-address and per-account sign-in limits in the handler.
	costAuth
	// costIngest: bounded by the ingest limits (wire bytes, decompressed
	// bytes, events per request) and committed in batches.
	costIngest
	// costHeavy: CPU or memory that grows with the data or the body
	// (reports, diffs, search, exports, assessments, uploads, verify): at
	// most heavyLimits[limit] such requests of one kind run at once.
	costHeavy
)

// routeCost is a route's declared cost and, for costHeavy, the name of its
// concurrency limit.
type routeCost struct {
	class costClass
	limit string
	// byHandler: the handler takes the slot itself (estate jobs share
	// estateSlots with code outside the route table).
	byHandler bool
}

// heavyLimits is how many requests of each heavy kind run at once; a
// request past it waits up to heavyWait for a slot, then gets 429.
var heavyLimits = map[string]int{
	"page":   4, // dashboard pages that aggregate over tenants or runs
	"report": 2, // HTML/CSV/JSON/SARIF/OSCAL reports of a run
	"diff":   2, // estate and assessment diffs
	"search": 4, // event search
	"blast":  2, // blast radius and ranking over the trust graph
	"export": 2, // the whole estate as JSON
	"assess": 1, // an assessment run started by hand
	"upload": 2, // claim evidence and contract uploads (multipart, size-capped)
	"verify": 2, // public attestation verification (also rate-limited per address)
	"estate": maxEstateJobs,
}

// heavyWait is how long a heavy request waits for a slot.
const heavyWait = 10 * time.Second

func heavy(limit string) routeCost { return routeCost{class: costHeavy, limit: limit} }

var (
	lookup    = routeCost{class: costLookup}
	authCost  = routeCost{class: costAuth}
	estateJob = routeCost{class: costHeavy, limit: "estate", byHandler: true}
)

// routeCosts declares the cost of every route, by route name.
var routeCosts = map[string]routeCost{
	"healthz": lookup, "readyz": lookup, "metrics": lookup, "openapi": lookup,

	"login": lookup, "login_post": authCost, "oidc": lookup, "oidc_callback": authCost,
	"totp": lookup, "totp_post": authCost, "passkey_get_options": lookup, "passkey_login": authCost, "logout": lookup,

	"overview": heavy("page"), "tenants": heavy("page"), "tenant": heavy("page"), "matrix": heavy("page"),
	"incidents": lookup, "incident_rows": lookup, "incident": lookup, "incidents_ack": lookup,
	"case": heavy("page"), "case_post": lookup, "incident_post": lookup,
	"remediation_post": lookup, "remediation_csv": lookup,
	"blast": heavy("blast"), "blast_graph": heavy("blast"), "blast_graph_data": heavy("blast"), "blast_graph_whatif": heavy("blast"), "events": heavy("search"),
	"report_page": heavy("report"),
	"account":     lookup, "account_password": authCost, "passkey_create_options": lookup, "passkey_create": authCost, "passkey_delete": lookup,
	"settings": lookup, "settings_user": authCost, "settings_user_delete": lookup, "settings_user_reset": authCost,
	"settings_token": lookup, "settings_token_revoke": lookup, "settings_target": lookup, "settings_target_delete": lookup,
	"audit": lookup, "collectors": lookup,

	"attest": lookup, "posture_download": lookup, "claim_post": heavy("upload"), "claim_revoke": lookup, "claim_evidence": lookup,
	"contract_upload": heavy("upload"), "contract_confirm": lookup,
	"verify": lookup, "verify_post": heavy("verify"), "attest_key": lookup,

	"api_me": lookup, "api_tenants": lookup, "api_tenant": lookup,
	"api_estate": heavy("export"), "api_estate_upload": estateJob, "api_estate_validate": estateJob,
	"api_snapshots": lookup, "api_estate_diff": heavy("diff"),
	"api_runs": lookup, "api_run_create": heavy("assess"), "api_run_diff": heavy("diff"), "api_run": lookup,
	"api_findings": lookup, "api_blast": heavy("blast"), "api_blast_ranking": heavy("blast"),
	"api_incidents": lookup, "api_cases": heavy("page"), "api_incident": lookup,
	"api_incident_ack": lookup, "api_incident_resolve": lookup, "api_incident_note": lookup, "api_incident_assign": lookup,
	"api_ingest": {class: costIngest}, "api_events": heavy("search"),
	"api_users": lookup, "api_user_create": authCost, "api_user_update": authCost, "api_user_delete": lookup,
	"api_tokens": lookup, "api_token_create": lookup, "api_token_revoke": lookup, "api_connectors": lookup,
	"api_targets": lookup, "api_target_put": lookup, "api_target_delete": lookup, "api_audit": lookup,
	"api_report": heavy("report"), "api_postures": lookup, "api_posture": lookup,
}

// newHeavySlots makes one semaphore per heavy limit (estate's is
// estateSlots, taken by its handlers).
func newHeavySlots(estate chan struct{}) map[string]chan struct{} {
	m := make(map[string]chan struct{}, len(heavyLimits))
	for k, n := range heavyLimits {
		m[k] = make(chan struct{}, n)
	}
	m["estate"] = estate
	return m
}

// heavySlot takes a slot of rt's heavy limit, waiting up to s.heavyWait;
// release it when the handler returns. A refusal is a 429 (counted in
// firebreak_http_requests_total with its route and code). Routes of other classes (and
// handler-limited ones) take nothing.
func (s *Server) heavySlot(ctx context.Context, w http.ResponseWriter, rt route) (release func(), err error) {
	c := routeCosts[rt.Name]
	if c.class != costHeavy || c.byHandler {
		return func() {}, nil
	}
	slots := s.heavy[c.limit]
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	default:
	}
	if s.heavyWait > 0 {
		t := time.NewTimer(s.heavyWait)
		defer t.Stop()
		select {
		case slots <- struct{}{}:
			return func() { <-slots }, nil
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	w.Header().Set("Retry-After", "5")
	return nil, errStatus(http.StatusTooManyRequests, "too many requests of this kind are running; retry in a few seconds")
}
