// Package detect runs Sigma detection rules and Sigma v2 correlation rules
// over normalized events (internal/event) and keeps one incident per attacker
// key, updated in place. It is imported by the detect command and the server;
// it imports only internal/event.
//
// # Flow
//
// LoadRules/Builtin parse Sigma YAML (multi-document files allowed) into
// []*Rule; NewEngine compiles them: detection rules become matchers over the
// event's struct fields (no allocation per event), correlation rules become
// per-group sliding windows on event time. (*Engine).Process feeds one event
// and returns the alerts it caused (a new incident, an escalation or a
// recurrence after suppress_for); Flush releases events still held for
// reordering at the end of input.
//
// # Log sources
//
// A rule's logsource is matched against the event's dataset and category:
//
//	product   service                 dataset
//	linux     sshd, auth, (none)      sshd
//	windows   security, (none)        windows.security
//	azure     signinlogs, (none)      entra.signin
//	entra     signinlogs, (none)      entra.signin
//	okta      okta, (none)            okta.system
//	P         S                       P.S, or P when S is absent, or S
//
// Any other product P matches dataset P or P.* (the generic JSON mapping sets
// the dataset, e.g. rmm). category matches event.category, with Sigma's
// process_creation mapped to ECS process. An empty logsource matches every
// event.
//
// # Field mapping
//
// Rules may name fields as their source writes them (TargetUserName,
// ResultType, actor.alternateId, pam_rhost) or by ECS name. Each built-in
// Source (Sources: windows-security, entra-signinlogs, okta-system-log,
// linux-auth) maps its Sigma names to the event's fields, like a pySigma
// processing pipeline; the rule's logsource selects the sources whose
// mappings apply. A field is read as named first, then through the
// mappings. CheckRule (and Engine.Warnings) name each rule field no loaded
// source can produce. Keyword rules match the event's original message.
// organization.id in a tenant-scoped rule's group-by is the implicit tenant
// key and adds nothing.
//
// # Modifiers, placeholders, filters
//
// Beyond the string, regex, cidr, numeric and exists modifiers: windash,
// base64, base64offset, wide/utf16le/utf16be/utf16, fieldref, neq and
// expand. expand placeholders take their values from Options.Placeholders
// (a placeholders file or the estate); a placeholder without a value never
// matches and is warned about. Sigma meta filters (a filter: section naming
// rules) are ANDed to the detection of the rules they name. Anything else
// is an *UnsupportedError naming the feature, wrapped in a *RuleError that
// names the file, line and rule.
//
// # Time
//
// Windows slide on event time, never on the wall clock: an event counts in a
// window while (now − its time) < timespan, where now is the time of the event
// being processed. Events are processed in timestamp order: an engine holds
// events up to allowed_lateness behind the newest one seen and releases them
// sorted; an event older than the last released one is late, counted in
// Stats.Late and dropped. Replaying a file therefore gives exactly what live
// processing of the same lines gives.
package detect
