package assess

import (
	"strings"
	"testing"
)

// TestControlsDoWhatTheySay pins each correction of issue 11's audit: every
// case failed (or passed wrongly) before its fix. Each estate is the
// smallest that shows it; want is the status and an evidence substring.
func TestControlsDoWhatTheySay(t *testing.T) {
	const base = agreeBase + "identities:\n  - {id: tech, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, last_sign_in: 2026-11-20}\n"
	for _, tc := range []struct {
		name, src, key string
		status         Status
		evidence       string
	}{
		{"acc-004-never-signed-in", agreeBase + `identities:
  - {id: ghost, kind: human, home: msp, created: 2022-11-01, mfa: {enforced: true, methods: [fido2]}}
grants:
  - {id: g1, subject: ghost, target: t1, privilege: admin, scope: servers}
`, "t1 FB-ACC-004", StatusFail, "ghost"},
		{"vendor-held-access-judged-for-mfa", agreeBase + `identities:
  - {id: dana, kind: human, home: msp, upn: dana_sub.example#EXT#@msp.example, mfa: {enforced: false}}
vendors:
  - {id: v-sub, kind: subcontractor, domains: [sub.example]}
grants:
  - {id: g1, subject: v-sub, target: t1, privilege: admin, scope: backups}
`, "t1 FB-MFA-001", StatusFail, "dana"},
		{"vendor-without-staff-not-evaluable", agreeBase + `vendors:
  - {id: v-sub, kind: subcontractor}
grants:
  - {id: g1, subject: v-sub, target: t1, privilege: admin, scope: backups}
`, "t1 FB-MFA-001", StatusNotEvaluable, "v-sub"},
		{"log-retention-floor", base + `settings: {log_retention_days: 90}
tools:
  - {id: siem, kind: siem, product: Box, logging: {enabled: true, retention_days: 120, segregated: true}}
`, "msp FB-LOG-002", StatusFail, "retention 120 days"},
		{"contract-retention-period", agreeBase + `contracts:
  - {id: c1, tenant: t1, clauses: [logging_retention], log_retention_days: 90}
`, "t1 FB-CTR-004", StatusFail, "log_retention_days=90"},
		{"customer-log-retention", agreeBase + `tools:
  - {id: t1-fw, kind: other, owner: t1, product: FW, logging: {enabled: true, retention_days: 30}}
`, "t1 FB-LOG-008", StatusFail, "retention 30 days"},
		{"immutable-is-not-offline", agreeBase + `backups:
  - {id: b1, tenant: t1, rpo_hours: 24, last_success: "2026-11-26T12:00:00Z", immutable: true, offline: false}
`, "t1 FB-BAK-002", StatusFail, "immutable but online"},
		{"backup-encryption", agreeBase + `backups:
  - {id: b1, tenant: t1, encrypted: false, keys_separate: true}
`, "t1 FB-BAK-003", StatusFail, "not encrypted"},
		{"gold-image-per-critical-system", agreeBase + `backups:
  - {id: b1, tenant: t1, gold_images: true}
assets:
  - {id: a1, tenant: t1, hostname: DC1, kind: server, critical: true, gold_image: false}
`, "t1 FB-BAK-005", StatusFail, "gold_image=false"},
		{"unset-rpo-not-evaluable", agreeBase + `backups:
  - {id: b1, tenant: t1, last_success: "2026-11-20T12:00:00Z"}
`, "t1 FB-BAK-001", StatusNotEvaluable, "RPO not recorded"},
		{"ir-hard-copy-current", agreeBase + `ir_plans:
  - {id: ir1, party: t1, last_exercised: 2026-06-01, hard_copy: true, hard_copy_updated: 2025-01-01}
`, "t1 FB-IR-003", StatusFail, "exercised since"},
		{"rdp-on-tool-with-mfa", base + `tools:
  - {id: jump, kind: jump_host, product: J, internet_exposed: true, ports: [443, 3389], mfa_enforced: true, mfa_methods: [fido2]}
`, "msp FB-IC-002", StatusFail, "3389"},
		{"customer-owned-remote-access", agreeBase + `tools:
  - {id: t1-sc, kind: remote_access, owner: t1, product: ScreenConnect, internet_exposed: true, mfa_enforced: false}
`, "t1 FB-IC-001", StatusFail, "t1-sc"},
		{"tool-without-patch-date", base + `tools:
  - {id: portal, kind: other, product: Portal}
`, "msp FB-UPD-003", StatusNotEvaluable, "portal"},
		{"operators-are-privileged", agreeBase + `identities:
  - {id: tech, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}}
grants:
  - {id: g1, subject: tech, target: t1, privilege: operate, scope: helpdesk}
`, "t1 FB-PRIV-004", StatusFail, "standing operate"},
		{"admin-groups-full-list", agreeBase + `identities:
  - {id: tech, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}}
grants:
  - {id: g1, subject: tech, target: t1, privilege: admin, scope: dc, roles: [Backup Operators]}
`, "t1 FB-AUTH-003", StatusFail, "Backup Operators"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := judgeBoth(t, tc.src)
			st, ev := j.status(t, tc.key)
			r := j.results[tc.key]
			all := ev + " " + r.Message + " " + strings.Join(r.Missing, " ")
			if st != tc.status || !strings.Contains(all, tc.evidence) {
				t.Errorf("%s = %s (%s; %s), want %s mentioning %q", tc.key, st, r.Message, ev, tc.status, tc.evidence)
			}
		})
	}
}
