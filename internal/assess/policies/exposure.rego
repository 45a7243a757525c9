# Heading 1 — prevent initial compromise: exposure, remote services, email domains, TLS.
package firebreak.checks.exposure

import data.firebreak.lib

# Remote desktop, file sharing and remote shells: exposed to the internet
# they fail whatever MFA the tool's console enforces (the service is
# reached before, or beside, the console's sign-in).
risky_ports := {21, 23, 111, 135, 139, 445, 2049, 3389, 5900, 5985, 5986}

risky_services := {"rdp", "smb", "netbios", "msrpc", "winrm", "vnc", "telnet", "ftp", "nfs", "rpcbind"}

probed_open(id) if {
	some x in input.exposures
	x.object == id
	x.open
}

exposed(t) if t.internet_exposed == true

exposed(t) if probed_open(t.id)

# The MSP's consoles, and on a tenant the customer's own (its remote access).
consoles := [t | some t in input.tools; t.management; t.kind != "gdap"; t.internet_exposed != false; t.owner == input.subject.id]

results contains lib.check(
	{"control": "FB-IC-001", "noun": "internet-exposed management consoles", "fails": "MFA not enforced", "need": "tools.mfa or tools.exposure"},
	count(consoles),
	[{"kind": "tool", "id": t.id, "detail": "internet-exposed, %s", "args": [lib.tool_no_mfa(t)]} | some t in consoles; exposed(t); t.mfa_enforced == false],
	array.concat(
		[{"kind": "tool", "id": t.id, "detail": "MFA enforcement unknown"} | some t in consoles; t.mfa_enforced == null],
		[{"kind": "tool", "id": t.id, "detail": "internet exposure unknown, MFA not enforced"} | some t in consoles; t.mfa_enforced == false; not exposed(t)],
	),
) if lib.msp

results contains lib.check(
	{"control": "FB-IC-001", "noun": "internet-exposed management consoles the customer owns", "fails": "MFA not enforced", "need": "tools.mfa or tools.exposure"},
	count(consoles),
	[{"kind": "tool", "id": t.id, "detail": "customer-owned %s, internet-exposed, %s", "args": [t.kind, lib.tool_no_mfa(t)]} | some t in consoles; exposed(t); t.mfa_enforced == false],
	[{"kind": "tool", "id": t.id, "detail": "MFA enforcement unknown"} | some t in consoles; t.mfa_enforced == null],
) if lib.tenant

risky_asset(a) := ports if {
	ports := [p | some p in a.internet_ports; p in risky_ports]
	count(ports) > 0
}

risky_exposure(x) if x.service in risky_services

risky_exposure(x) if x.port in risky_ports

risky_tool(t) := ports if {
	t.internet_exposed == true
	ports := [p | some p in t.ports; p in risky_ports]
	count(ports) > 0
}

results contains lib.check(
	{"control": "FB-IC-002", "noun": "internet-facing systems and probes", "fails": "remote-desktop or file-sharing service exposed", "need": "assets.ports",
	 "kind": "asset", "detail": "{hostname}: internet ports {internet_ports}"},
	((count(input.assets) + count(input.exposures)) + count(input.tools)),
	array.concat(
		array.concat(
			[a.id | some a in input.assets; count(a.internet_ports) > 0; risky_asset(a)],
			[{"kind": "exposure", "id": x.id, "detail": "%s open (%s) on %s", "args": [x.id, x.service, x.object]} | some x in input.exposures; x.open; risky_exposure(x)],
		),
		[{"kind": "tool", "id": t.id, "detail": "remote-desktop or file-sharing ports %v exposed (console MFA does not cover them)", "args": [ports]} | some t in input.tools; ports := risky_tool(t)],
	),
	[],
)

weak_spf(d) := "no SPF record" if not d.spf
else := "SPF record invalid" if not d.spf_valid
else := sprintf("SPF ends %q, not -all or ~all", [d.spf_all]) if not d.spf_all in {"-all", "~all"}

weak_dmarc(d) := "no DMARC record" if not d.dmarc
else := sprintf("DMARC p=%s", [d.dmarc_policy]) if not d.dmarc_policy in {"quarantine", "reject"}
else := sprintf("DMARC pct=%d", [d.dmarc_pct]) if d.dmarc_pct < 100

results contains r if {
	count(input.domains) == 0
	r := lib.not_evaluable("FB-IC-003", "no email domain evidence collected", "domains (collect with `firebreak collect dns`)")
}

results contains lib.check(
	{"control": "FB-IC-003", "noun": "email domains", "fails": "spoofable (SPF/DMARC)", "need": "domains (DNS lookup failed)"},
	count(input.domains),
	array.concat(
		[{"kind": "domain", "id": d.id, "detail": msg} | some d in input.domains; d.error == ""; msg := weak_spf(d)],
		[{"kind": "domain", "id": d.id, "detail": msg} | some d in input.domains; d.error == ""; msg := weak_dmarc(d)],
	),
	[{"kind": "domain", "id": d.id, "detail": d.error} | some d in input.domains; d.error != ""],
) if count(input.domains) > 0

tls_services := [x | some x in input.exposures; x.open; x.tls_version != ""]

weak_tls := {"SSLv2", "SSLv3", "TLS1.0", "TLS1.1", "TLSv1", "TLSv1.0", "TLSv1.1", "1.0", "1.1"}

results contains r if {
	count(input.exposures) == 0
	r := lib.not_evaluable("FB-IC-004", "no exposure probe evidence collected", "exposures (collect with `firebreak collect probe`)")
}

results contains lib.check(
	{"control": "FB-IC-004", "noun": "exposed TLS services", "fails": "obsolete TLS or expired certificate", "need": "exposures"},
	count(tls_services),
	array.concat(
		[{"kind": "exposure", "id": x.id, "detail": "%s on %s", "args": [x.tls_version, x.object]} | some x in tls_services; x.tls_version in weak_tls],
		[{"kind": "exposure", "id": x.id, "detail": "certificate expired %d days ago", "args": [0 - x.cert_days_left]} | some x in tls_services; x.cert_days_left != null; x.cert_days_left < 0],
	),
	[],
) if count(input.exposures) > 0
