// Package ingest reads authentication logs (OpenSSH via syslog or journald,
// Windows Security events, Microsoft Entra ID sign-ins, Okta System Log, and
// generic JSON lines with a field mapping) and turns each record into an
// event.Event. It is imported by the detect command, the server's log
// listeners and the log generator's tests; it imports only internal/event and
// internal/estate.
//
// # Formats
//
// Open and NewReader sniff the first bytes of an input to pick a format
// (FormatSyslog, FormatJournald, FormatWindows, FormatEVTX, FormatXML,
// FormatEntra, FormatOkta, FormatGeneric); Options.Format overrides it.
// Binary .evtx files are read by the pure-Go reader in internal/ingest/evtx
// and rendered event XML by xmlSource; both hand their values to the
// Windows parser under the rendered-XML paths, so every Windows form shares
// one mapping. docs/ingest.md describes the formats, the damage handling
// and the syslog prefilter. gzip input is decompressed
// transparently. Malformed records are counted in Stats and skipped, never
// fatal; lines longer than Options.MaxLineBytes are counted as too long.
//
// # Event vocabulary
//
// Every parser fills event.category, event.action, event.outcome and, for
// failures, event.reason from a small shared vocabulary so that one rule can
// cover several products:
//
//	reason            meaning
//	bad_password      wrong password for an existing account
//	unknown_user      the account does not exist
//	locked            the account is locked out
//	disabled          the account is disabled
//	password_expired  the password has expired / must change
//	account_expired   the account has expired
//	mfa_denied        the user denied (or failed) an MFA challenge
//	mfa_required      password accepted, MFA challenge issued (Entra 50074/50076)
//	mfa_push_sent     an MFA push was sent (Okta)
//	blocked           blocked by policy (Conditional Access, workstation, hours, ...)
//	too_many_attempts sshd gave up on the connection
//	preauth_closed    sshd: the client left during authentication
//	other             any other failure
//
// Outcome "failure" is set on exactly one event per failed credential check,
// so that counting failures does not double count: for sshd that is the
// "Failed <method> for ..." line (and "message repeated N times" of it, with
// Count = N). Companion lines that describe the same attempt or connection
// ("Invalid user ...", pam_unix "authentication failure", "Too many
// authentication failures", "maximum authentication attempts exceeded",
// "Connection closed by authenticating user ... [preauth]") are emitted with
// outcome "unknown" and their own action and reason.
//
// Actions by dataset:
//
//	sshd              ssh_failed_password, ssh_failed_publickey, ssh_failed_other,
//	                  ssh_accepted_password, ssh_accepted_publickey, ssh_accepted_other,
//	                  ssh_invalid_user, ssh_pam_auth_failure, ssh_too_many_auth_failures,
//	                  ssh_max_auth_attempts, ssh_preauth_closed, ssh_not_allowed_user
//	windows.security  logged-in (4624), logon-failed (4625), logged-out (4634, 4647),
//	                  logged-in-explicit (4648), logged-in-special (4672),
//	                  user-account-locked (4740), user-account-unlocked (4767),
//	                  kerberos-authentication-ticket-requested (4768),
//	                  kerberos-service-ticket-requested (4769), kerberos-preauth-failed (4771),
//	                  credential-validated / credential-validation-failed (4776);
//	                  event.code is the event id, LogonType/Status/SubStatus kept in Fields
//	linux.auth        pam_auth_failure (any PAM service but sshd), su_failed,
//	                  sudo_failed_password, sudo_not_in_sudoers, sudo_password_missing
//	entra.signin      signin (Fields: errorCode, isInteractive, appDisplayName,
//	                  clientAppUsed, category); reason from status.errorCode
//	okta.system       the Okta eventType verbatim (user.session.start,
//	                  user.authentication.auth_via_mfa, system.push.send_factor_verify_push,
//	                  user.mfa.okta_verify.deny_push, user.account.lock, ...)
//	generic           whatever the mapping file says
package ingest
