package server

import (
	_ "embed"

	"github.com/firebreak-msp/firebreak/internal/auth"
)

// openAPIDoc is the hand-written OpenAPI 3 description of /api/v1; a test
// checks that every API route is documented in it.
//
//go:embed openapi.json
var openAPIDoc []byte

// buildRoutes lists every route. The tenant-isolation test walks this list.
func (s *Server) buildRoutes() []route {
	r := func(method, pattern string, a auth.Access, name string, h handlerFunc) route {
		return route{Method: method, Pattern: pattern, Access: a, Name: name, H: h}
	}
	return []route{
		// health and metadata
		r("GET", "/healthz", auth.AccessPublic, "healthz", s.handleHealthz),
		r("GET", "/readyz", auth.AccessPublic, "readyz", s.handleReadyz),
		r("GET", "/metrics", auth.AccessPublic, "metrics", s.handleMetrics),
		r("GET", "/api/v1/openapi.json", auth.AccessPublic, "openapi", s.handleOpenAPI),

		// sign-in
		r("GET", "/login", auth.AccessPublic, "login", s.handleLoginForm),
		r("POST", "/login", auth.AccessPublic, "login_post", s.handleLogin),
		r("GET", "/login/oidc", auth.AccessPublic, "oidc", s.handleOIDCStart),
		r("GET", "/login/oidc/callback", auth.AccessPublic, "oidc_callback", s.handleOIDCCallback),
		r("GET", "/login/totp", auth.AccessPreMFA, "totp", s.handleTOTPForm),
		r("POST", "/login/totp", auth.AccessPreMFA, "totp_post", s.handleTOTP),
		r("POST", "/login/passkey/options", auth.AccessPreMFA, "passkey_get_options", s.handlePasskeyGetOptions),
		r("POST", "/login/passkey", auth.AccessPreMFA, "passkey_login", s.handlePasskeyLogin),
		r("POST", "/logout", auth.AccessPreMFA, "logout", s.handleLogout),

		// dashboard
		r("GET", "/{$}", auth.AccessReadHeavy, "overview", s.handleOverview),
		r("GET", "/tenants", auth.AccessReadHeavy, "tenants", s.handleTenants),
		r("GET", "/tenants/{id}", auth.AccessReadHeavy, "tenant", s.handleTenant),
		r("GET", "/matrix", auth.AccessReadHeavy, "matrix", s.handleMatrix),
		r("GET", "/incidents", auth.AccessRead, "incidents", s.handleIncidents),
		r("GET", "/incidents/rows", auth.AccessRead, "incident_rows", s.handleIncidentRows),
		r("GET", "/incidents/{id}", auth.AccessRead, "incident", s.handleIncident),
		r("POST", "/incidents/acknowledge", auth.AccessIncident, "incidents_ack", s.handleIncidentsAck),
		r("GET", "/cases/{id}", auth.AccessReadHeavy, "case", s.handleCase),
		r("POST", "/cases/{id}", auth.AccessIncident, "case_post", s.handleCaseForm),
		r("POST", "/incidents/{id}", auth.AccessIncident, "incident_post", s.handleIncidentForm),
		r("POST", "/remediation/{key}", auth.AccessIncident, "remediation_post", s.handleRemediationForm),
		r("GET", "/remediation.csv", auth.AccessRead, "remediation_csv", s.handleRemediationCSV),
		r("GET", "/blast", auth.AccessReadHeavy, "blast", s.handleBlastPage),
		r("GET", "/blast/graph", auth.AccessReadHeavy, "blast_graph", s.handleBlastGraph),
		r("GET", "/blast/graph/data", auth.AccessReadHeavy, "blast_graph_data", s.handleBlastGraphData),
		r("GET", "/blast/graph/whatif", auth.AccessReadHeavy, "blast_graph_whatif", s.handleBlastGraphWhatIf),
		r("GET", "/events", auth.AccessReadHeavy, "events", s.handleEventsPage),
		r("GET", "/reports/{format}", auth.AccessReadHeavy, "report_page", s.handleReport),
		r("GET", "/account", auth.AccessRead, "account", s.handleAccount),
		r("POST", "/account/password", auth.AccessRead, "account_password", s.handleAccountPassword),
		r("POST", "/account/passkeys/options", auth.AccessRead, "passkey_create_options", s.handlePasskeyCreateOptions),
		r("POST", "/account/passkeys", auth.AccessRead, "passkey_create", s.handlePasskeyCreate),
		r("POST", "/account/passkeys/{id}/delete", auth.AccessRead, "passkey_delete", s.handlePasskeyDelete),
		r("GET", "/settings", auth.AccessAdmin, "settings", s.handleSettings),
		r("POST", "/settings/users", auth.AccessAdmin, "settings_user", s.handleUserForm),
		r("POST", "/settings/users/{username}/delete", auth.AccessAdmin, "settings_user_delete", s.handleUserDeleteForm),
		r("POST", "/settings/users/{username}/reset", auth.AccessAdmin, "settings_user_reset", s.handleUserResetForm),
		r("POST", "/settings/tokens", auth.AccessAdmin, "settings_token", s.handleTokenForm),
		r("POST", "/settings/tokens/{id}/revoke", auth.AccessAdmin, "settings_token_revoke", s.handleTokenRevokeForm),
		r("POST", "/settings/targets", auth.AccessAdmin, "settings_target", s.handleTargetForm),
		r("POST", "/settings/targets/{id}/delete", auth.AccessAdmin, "settings_target_delete", s.handleTargetDeleteForm),
		r("GET", "/audit", auth.AccessAdmin, "audit", s.handleAuditPage),
		r("GET", "/collectors", auth.AccessIncident, "collectors", s.handleCollectorsPage),

		// attestations (issue 17): signed posture per tenant, claims recorded
		// by tenant attesters and the MSP, contract review, public verify
		r("GET", "/tenants/{id}/attest", auth.AccessRead, "attest", s.handleAttestPage),
		r("GET", "/tenants/{id}/attestations/{pid}", auth.AccessRead, "posture_download", s.handlePostureDownload),
		r("POST", "/tenants/{id}/claims", auth.AccessAttest, "claim_post", s.handleClaimPost),
		r("POST", "/tenants/{id}/claims/{cid}/revoke", auth.AccessAttest, "claim_revoke", s.handleClaimRevoke),
		r("GET", "/tenants/{id}/claims/{cid}/evidence", auth.AccessRead, "claim_evidence", s.handleClaimEvidence),
		r("POST", "/tenants/{id}/contract", auth.AccessIncident, "contract_upload", s.handleContractUpload),
		r("POST", "/tenants/{id}/contract/confirm", auth.AccessIncident, "contract_confirm", s.handleContractConfirm),
		r("GET", "/verify", auth.AccessPublic, "verify", s.handleVerifyForm),
		r("POST", "/verify", auth.AccessPublic, "verify_post", s.handleVerify),
		r("GET", "/attest/key.pub", auth.AccessPublic, "attest_key", s.handleAttestKey),

		// API
		r("GET", "/api/v1/me", auth.AccessRead, "api_me", s.handleMe),
		r("GET", "/api/v1/tenants", auth.AccessRead, "api_tenants", s.handleAPITenants),
		r("GET", "/api/v1/tenants/{id}", auth.AccessRead, "api_tenant", s.handleAPITenant),
		r("GET", "/api/v1/estate", auth.AccessReadHeavy, "api_estate", s.handleAPIEstate),
		r("POST", "/api/v1/estate", auth.AccessAdmin, "api_estate_upload", s.handleAPIEstateUpload),
		r("POST", "/api/v1/estate/validate", auth.AccessIncident, "api_estate_validate", s.handleAPIEstateValidate),
		r("GET", "/api/v1/estate/snapshots", auth.AccessRead, "api_snapshots", s.handleAPISnapshots),
		r("GET", "/api/v1/estate/diff", auth.AccessReadHeavy, "api_estate_diff", s.handleAPIEstateDiff),
		r("GET", "/api/v1/assessments", auth.AccessRead, "api_runs", s.handleAPIRuns),
		r("POST", "/api/v1/assessments", auth.AccessIncident, "api_run_create", s.handleAPIRunCreate),
		r("GET", "/api/v1/assessments/diff", auth.AccessReadHeavy, "api_run_diff", s.handleAPIRunDiff),
		r("GET", "/api/v1/assessments/{id}", auth.AccessRead, "api_run", s.handleAPIRun),
		r("GET", "/api/v1/findings", auth.AccessRead, "api_findings", s.handleAPIFindings),
		r("GET", "/api/v1/blast", auth.AccessReadHeavy, "api_blast", s.handleAPIBlast),
		r("GET", "/api/v1/blast/ranking", auth.AccessReadHeavy, "api_blast_ranking", s.handleAPIBlastRanking),
		r("GET", "/api/v1/incidents", auth.AccessRead, "api_incidents", s.handleAPIIncidents),
		r("GET", "/api/v1/cases", auth.AccessReadHeavy, "api_cases", s.handleAPICases),
		r("GET", "/api/v1/incidents/{id}", auth.AccessRead, "api_incident", s.handleAPIIncident),
		r("POST", "/api/v1/incidents/{id}/acknowledge", auth.AccessIncident, "api_incident_ack", s.handleAPIIncidentAck),
		r("POST", "/api/v1/incidents/{id}/resolve", auth.AccessIncident, "api_incident_resolve", s.handleAPIIncidentResolve),
		r("POST", "/api/v1/incidents/{id}/notes", auth.AccessIncident, "api_incident_note", s.handleAPIIncidentNote),
		r("POST", "/api/v1/incidents/{id}/assign", auth.AccessIncident, "api_incident_assign", s.handleAPIIncidentAssign),
		r("POST", "/api/v1/events", auth.AccessIngest, "api_ingest", s.handleIngest),
		r("GET", "/api/v1/events", auth.AccessReadHeavy, "api_events", s.handleEventSearch),
		r("GET", "/api/v1/users", auth.AccessAdmin, "api_users", s.handleAPIUsers),
		r("POST", "/api/v1/users", auth.AccessAdmin, "api_user_create", s.handleAPIUserCreate),
		r("PUT", "/api/v1/users/{username}", auth.AccessAdmin, "api_user_update", s.handleAPIUserUpdate),
		r("DELETE", "/api/v1/users/{username}", auth.AccessAdmin, "api_user_delete", s.handleAPIUserDelete),
		r("GET", "/api/v1/tokens", auth.AccessAdmin, "api_tokens", s.handleAPITokens),
		r("POST", "/api/v1/tokens", auth.AccessAdmin, "api_token_create", s.handleAPITokenCreate),
		r("DELETE", "/api/v1/tokens/{id}", auth.AccessAdmin, "api_token_revoke", s.handleAPITokenRevoke),
		r("GET", "/api/v1/connectors", auth.AccessIncident, "api_connectors", s.handleAPIConnectors),
		r("GET", "/api/v1/notify-targets", auth.AccessAdmin, "api_targets", s.handleAPITargets),
		r("POST", "/api/v1/notify-targets", auth.AccessAdmin, "api_target_put", s.handleAPITargetPut),
		r("DELETE", "/api/v1/notify-targets/{id}", auth.AccessAdmin, "api_target_delete", s.handleAPITargetDelete),
		r("GET", "/api/v1/audit", auth.AccessAdmin, "api_audit", s.handleAPIAudit),
		r("GET", "/api/v1/reports/{format}", auth.AccessReadHeavy, "api_report", s.handleReport),
		r("GET", "/api/v1/tenants/{id}/attestations", auth.AccessRead, "api_postures", s.handleAPIPostures),
		r("GET", "/api/v1/tenants/{id}/attestations/{pid}", auth.AccessRead, "api_posture", s.handlePostureDownload),
	}
}
