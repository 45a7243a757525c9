package server

import _ "embed"

// openAPIDoc is the hand-written OpenAPI 3 description of /api/v1; a test
// checks that every API route is documented in it.
//
//go:embed openapi.json
var openAPIDoc []byte

// buildRoutes lists every route. The tenant-isolation test walks this list.
func (s *Server) buildRoutes() []route {
	r := func(method, pattern string, a access, name string, h handlerFunc) route {
		return route{Method: method, Pattern: pattern, Access: a, Name: name, H: h}
	}
	return []route{
		// health and metadata
		r("GET", "/healthz", accessPublic, "healthz", s.handleHealthz),
		r("GET", "/readyz", accessPublic, "readyz", s.handleReadyz),
		r("GET", "/metrics", accessPublic, "metrics", s.handleMetrics),
		r("GET", "/api/v1/openapi.json", accessPublic, "openapi", s.handleOpenAPI),

		// sign-in
		r("GET", "/login", accessPublic, "login", s.handleLoginForm),
		r("POST", "/login", accessPublic, "login_post", s.handleLogin),
		r("GET", "/login/oidc", accessPublic, "oidc", s.handleOIDCStart),
		r("GET", "/login/oidc/callback", accessPublic, "oidc_callback", s.handleOIDCCallback),
		r("GET", "/login/totp", accessPreMFA, "totp", s.handleTOTPForm),
		r("POST", "/login/totp", accessPreMFA, "totp_post", s.handleTOTP),
		r("POST", "/login/passkey/options", accessPreMFA, "passkey_get_options", s.handlePasskeyGetOptions),
		r("POST", "/login/passkey", accessPreMFA, "passkey_login", s.handlePasskeyLogin),
		r("POST", "/logout", accessPreMFA, "logout", s.handleLogout),

		// dashboard
		r("GET", "/{$}", accessRead, "overview", s.handleOverview),
		r("GET", "/tenants/{id}", accessRead, "tenant", s.handleTenant),
		r("GET", "/matrix", accessRead, "matrix", s.handleMatrix),
		r("GET", "/incidents", accessRead, "incidents", s.handleIncidents),
		r("GET", "/incidents/rows", accessRead, "incident_rows", s.handleIncidentRows),
		r("GET", "/incidents/{id}", accessRead, "incident", s.handleIncident),
		r("POST", "/incidents/{id}", accessIncident, "incident_post", s.handleIncidentForm),
		r("GET", "/blast", accessRead, "blast", s.handleBlastPage),
		r("GET", "/blast/graph", accessRead, "blast_graph", s.handleBlastGraph),
		r("GET", "/events", accessRead, "events", s.handleEventsPage),
		r("GET", "/reports/{format}", accessRead, "report_page", s.handleReport),
		r("GET", "/account", accessRead, "account", s.handleAccount),
		r("POST", "/account/password", accessRead, "account_password", s.handleAccountPassword),
		r("POST", "/account/passkeys/options", accessRead, "passkey_create_options", s.handlePasskeyCreateOptions),
		r("POST", "/account/passkeys", accessRead, "passkey_create", s.handlePasskeyCreate),
		r("POST", "/account/passkeys/{id}/delete", accessRead, "passkey_delete", s.handlePasskeyDelete),
		r("GET", "/settings", accessAdmin, "settings", s.handleSettings),
		r("POST", "/settings/users", accessAdmin, "settings_user", s.handleUserForm),
		r("POST", "/settings/users/{username}/delete", accessAdmin, "settings_user_delete", s.handleUserDeleteForm),
		r("POST", "/settings/users/{username}/reset", accessAdmin, "settings_user_reset", s.handleUserResetForm),
		r("POST", "/settings/tokens", accessAdmin, "settings_token", s.handleTokenForm),
		r("POST", "/settings/tokens/{id}/revoke", accessAdmin, "settings_token_revoke", s.handleTokenRevokeForm),
		r("POST", "/settings/targets", accessAdmin, "settings_target", s.handleTargetForm),
		r("POST", "/settings/targets/{id}/delete", accessAdmin, "settings_target_delete", s.handleTargetDeleteForm),
		r("GET", "/audit", accessAdmin, "audit", s.handleAuditPage),

		// API
		r("GET", "/api/v1/me", accessRead, "api_me", s.handleMe),
		r("GET", "/api/v1/tenants", accessRead, "api_tenants", s.handleAPITenants),
		r("GET", "/api/v1/tenants/{id}", accessRead, "api_tenant", s.handleAPITenant),
		r("GET", "/api/v1/estate", accessRead, "api_estate", s.handleAPIEstate),
		r("POST", "/api/v1/estate", accessAdmin, "api_estate_upload", s.handleAPIEstateUpload),
		r("POST", "/api/v1/estate/validate", accessRead, "api_estate_validate", s.handleAPIEstateValidate),
		r("GET", "/api/v1/estate/snapshots", accessRead, "api_snapshots", s.handleAPISnapshots),
		r("GET", "/api/v1/estate/diff", accessRead, "api_estate_diff", s.handleAPIEstateDiff),
		r("GET", "/api/v1/assessments", accessRead, "api_runs", s.handleAPIRuns),
		r("POST", "/api/v1/assessments", accessIncident, "api_run_create", s.handleAPIRunCreate),
		r("GET", "/api/v1/assessments/diff", accessRead, "api_run_diff", s.handleAPIRunDiff),
		r("GET", "/api/v1/assessments/{id}", accessRead, "api_run", s.handleAPIRun),
		r("GET", "/api/v1/findings", accessRead, "api_findings", s.handleAPIFindings),
		r("GET", "/api/v1/blast", accessRead, "api_blast", s.handleAPIBlast),
		r("GET", "/api/v1/blast/ranking", accessRead, "api_blast_ranking", s.handleAPIBlastRanking),
		r("GET", "/api/v1/incidents", accessRead, "api_incidents", s.handleAPIIncidents),
		r("GET", "/api/v1/incidents/{id}", accessRead, "api_incident", s.handleAPIIncident),
		r("POST", "/api/v1/incidents/{id}/acknowledge", accessIncident, "api_incident_ack", s.handleAPIIncidentAck),
		r("POST", "/api/v1/incidents/{id}/resolve", accessIncident, "api_incident_resolve", s.handleAPIIncidentResolve),
		r("POST", "/api/v1/incidents/{id}/notes", accessIncident, "api_incident_note", s.handleAPIIncidentNote),
		r("POST", "/api/v1/incidents/{id}/assign", accessIncident, "api_incident_assign", s.handleAPIIncidentAssign),
		r("POST", "/api/v1/events", accessIngest, "api_ingest", s.handleIngest),
		r("GET", "/api/v1/events", accessRead, "api_events", s.handleEventSearch),
		r("GET", "/api/v1/users", accessAdmin, "api_users", s.handleAPIUsers),
		r("POST", "/api/v1/users", accessAdmin, "api_user_create", s.handleAPIUserCreate),
		r("PUT", "/api/v1/users/{username}", accessAdmin, "api_user_update", s.handleAPIUserUpdate),
		r("DELETE", "/api/v1/users/{username}", accessAdmin, "api_user_delete", s.handleAPIUserDelete),
		r("GET", "/api/v1/tokens", accessAdmin, "api_tokens", s.handleAPITokens),
		r("POST", "/api/v1/tokens", accessAdmin, "api_token_create", s.handleAPITokenCreate),
		r("DELETE", "/api/v1/tokens/{id}", accessAdmin, "api_token_revoke", s.handleAPITokenRevoke),
		r("GET", "/api/v1/notify-targets", accessAdmin, "api_targets", s.handleAPITargets),
		r("POST", "/api/v1/notify-targets", accessAdmin, "api_target_put", s.handleAPITargetPut),
		r("DELETE", "/api/v1/notify-targets/{id}", accessAdmin, "api_target_delete", s.handleAPITargetDelete),
		r("GET", "/api/v1/audit", accessAdmin, "api_audit", s.handleAPIAudit),
		r("GET", "/api/v1/reports/{format}", accessRead, "api_report", s.handleReport),
	}
}
