package detect

import (
	"slices"
	"strconv"
	"strings"
)

// Source describes one log source firebreak parses, in the spirit of a
// pySigma processing pipeline: the dataset its events carry, the Sigma field
// names its rules use mapped to the event's fields, and the fields its events
// can carry at all. A rule's logsource selects the sources whose mapping
// applies to its field names; a field that no selected source can produce is
// reported by CheckRule.
type Source struct {
	Name       string
	Datasets   []string // event.dataset values of its events
	Categories []string // event.category values of its events
	// Fields maps a Sigma (or ECS) field name to the event fields that hold
	// it, tried in order after the name itself: ECS names of the event's
	// struct fields (user.name, source.ip, …) or keys of Event.Fields.
	Fields map[string][]string
	// Prefixes maps a field-name prefix to its replacement
	// (winlog.event_data.TargetUserName → TargetUserName).
	Prefixes map[string]string
	// Produces lists the event fields its events can carry: ECS names of
	// struct fields and keys of Event.Fields, plus "message".
	Produces []string
	// DashIsAbsent: the reader drops the placeholder value "-" (Windows
	// writes it for an empty EventData field), so a rule's exact '-' also
	// matches an absent field.
	DashIsAbsent bool
}

// hot ECS fields every parsed source sets (when the record has them).
var commonProduced = []string{
	"@timestamp", "event.category", "event.action", "event.outcome", "event.reason", "event.code",
	"event.dataset", "user.name", "source.ip", "organization.id", "message",
	"firebreak.benign_source", "firebreak.service_account",
}

// windowsAuthFields are the System and EventData names the Windows readers
// (.evtx, event XML, Winlogbeat/NXLog/Get-WinEvent JSON: one parser,
// internal/ingest windows.go winFieldNames) keep for the Security events they
// parse (4624, 4625, 4634, 4647, 4648, 4672, 4740, 4767, 4768, 4769, 4771,
// 4776), plus StatusName (the status code's name). Only what they produce
// is listed: a rule on another EventData name (LogonGuid,
// ImpersonationLevel, ElevatedToken, …) is reported as unmatchable at load.
// TestAdvertisedWindowsFields (internal/ingest) parses a fixture carrying
// every EventData name of those events and fails when this list and the
// fields the readers set differ.
var windowsAuthFields = []string{
	"EventID", "SubjectUserSid", "SubjectUserName", "SubjectDomainName",
	"TargetUserSid", "TargetUserName", "TargetDomainName", "TargetLogonId", "TargetSid",
	"LogonType", "LogonProcessName", "AuthenticationPackageName", "WorkstationName", "Workstation",
	"ProcessName", "IpAddress", "IpPort", "Status", "SubStatus", "StatusName", "TargetServerName",
	"PrivilegeList", "ServiceName", "TicketOptions", "TicketEncryptionType", "PreAuthType", "PackageName",
	"KeyLength",
}

// Sources returns the built-in sources: one per log format firebreak parses.
func Sources() []Source {
	return []Source{
		{
			Name: "windows-security", Datasets: []string{"windows.security"}, Categories: []string{"authentication", "iam", "session"},
			Fields: map[string][]string{
				"EventID": {"event.code"}, "EventId": {"EventID", "event.code"}, "winlog.event_id": {"EventID", "event.code"},
				"Computer": {"host.name"}, "ComputerName": {"host.name"}, "Hostname": {"host.name"}, "winlog.computer_name": {"host.name"},
				"TargetUserName": {"user.name"}, "TargetDomainName": {"user.domain"}, "IpAddress": {"source.ip"}, "IpPort": {"source.port"},
				"source.domain": {"WorkstationName", "Workstation"}, "user.domain": {"TargetDomainName"},
				"source.port": {"IpPort"}, "winlog.logon.type": {"LogonType"},
			},
			Prefixes:     map[string]string{"winlog.event_data.": "", "Event.EventData.": "", "EventData.": ""},
			Produces:     append(slices.Clone(windowsAuthFields), "host.name", "user.domain", "source.port", "source.domain"),
			DashIsAbsent: true,
		},
		{
			Name: "entra-signinlogs", Datasets: []string{"entra.signin"}, Categories: []string{"authentication"},
			Fields: map[string][]string{
				"ResultType": {"errorCode", "event.code"}, "resultType": {"errorCode", "event.code"}, "Status.errorCode": {"errorCode"}, "status.errorCode": {"errorCode"},
				"ResultDescription": {"status.failureReason"}, "Resultdescription": {"status.failureReason"}, "resultDescription": {"status.failureReason"},
				"Status.failureReason": {"status.failureReason"}, "Status.additionalDetails": {"status.additionalDetails"},
				"Status":            {"status.additionalDetails", "status.failureReason"},
				"UserPrincipalName": {"user.name"}, "userPrincipalName": {"user.name"}, "Username": {"user.name"},
				"IPAddress": {"source.ip"}, "ipAddress": {"source.ip"}, "callerIpAddress": {"source.ip"},
				"AppDisplayName": {"appDisplayName"}, "ClientAppUsed": {"clientAppUsed"}, "ClientApp": {"clientAppUsed"},
				"ConditionalAccessStatus": {"conditionalAccessStatus"}, "AuthenticationRequirement": {"authenticationRequirement"},
				"properties.authenticationRequirement": {"authenticationRequirement"},
				"TenantId":                             {"tenantId"}, "HomeTenantId": {"tenantId"}, "homeTenantId": {"tenantId"}, "ResourceTenantId": {"tenantId"}, "resourceTenantId": {"tenantId"},
				"UserType": {"userType"}, "IsInteractive": {"isInteractive"}, "Category": {"category"},
				"Location": {"source.geo.country_iso_code"}, "location": {"source.geo.country_iso_code"},
				"AutonomousSystemNumber": {"source.as.number"},
			},
			Prefixes: map[string]string{"properties.": ""},
			Produces: []string{"errorCode", "isInteractive", "tenantId", "category", "appDisplayName", "clientAppUsed",
				"status.failureReason", "status.additionalDetails", "conditionalAccessStatus", "authenticationRequirement",
				"source.as.number", "source.geo.country_iso_code", "userType", "signInEventTypes", "user.domain"},
		},
		{
			Name: "okta-system-log", Datasets: []string{"okta.system"}, Categories: []string{"authentication", "iam", "session"},
			Fields: map[string][]string{
				"eventType": {"event.action"}, "actor.alternateId": {"user.name"}, "client.ipAddress": {"source.ip"},
				"client.geographicalContext.country": {"source.geo.country_name"}, "published": {"@timestamp"},
			},
			Produces: []string{"eventType", "outcome.result", "outcome.reason", "displayMessage", "actor.id", "factor",
				"source.as.number", "source.geo.country_name"},
		},
		{
			Name: "linux-auth", Datasets: []string{"sshd", datasetLinuxAuth}, Categories: []string{"authentication"},
			Fields: map[string][]string{
				"pam_user": {"user.name"}, "pam_rhost": {"source.ip"}, "USER": {"user.name"}, "user": {"user.name"},
				"rhost": {"source.ip"}, "ruser": {"user.name"}, "hostname": {"host.name"}, "host": {"host.name"},
				"ProcessName": {"process.name"}, "process.name": {"process.name"},
			},
			Produces: []string{"host.name", "source.port", "source.address", "source.domain", "process.name"},
		},
	}
}

// builtinSources are the sources field names are resolved through.
var builtinSources = Sources()

// produces reports whether the source's events can carry event field f.
func (s *Source) produces(f string) bool {
	return slices.Contains(commonProduced, f) || slices.Contains(s.Produces, f)
}

// targets returns the event fields that hold Sigma field f in the source's
// events, in order (f itself first).
func (s *Source) targets(f string) []string {
	out := []string{f}
	for p, repl := range s.Prefixes {
		if strings.HasPrefix(f, p) {
			out = append(out, repl+f[len(p):])
		}
	}
	for _, t := range out[1:] {
		out = append(out, s.Fields[t]...)
	}
	return append(out, s.Fields[f]...)
}

// canProduce reports whether some event of the source can carry Sigma field f.
func (s *Source) canProduce(f string) bool {
	return slices.ContainsFunc(s.targets(f), s.produces)
}

// Selects reports whether a rule with logsource ls applies to the source's events.
func (s *Source) Selects(ls LogSource) bool {
	for _, ds := range s.Datasets {
		if ls.Category == "" {
			if ls.matches(ds, "") {
				return true
			}
			continue
		}
		for _, c := range s.Categories {
			if ls.matches(ds, c) {
				return true
			}
		}
	}
	return false
}

// sourcesFor returns the sources a rule with logsource ls applies to.
func sourcesFor(ls LogSource, srcs []Source) []*Source {
	var out []*Source
	for i := range srcs {
		if srcs[i].Selects(ls) {
			out = append(out, &srcs[i])
		}
	}
	return out
}

// resolveField builds the accessor for Sigma field f of a rule with
// logsource ls: the field itself, then what each applicable source maps it
// to (tagged with the source's dataset when several sources apply).
func resolveField(f string, ls LogSource) accessor {
	a := newAccessor(f)
	if a.kind != fOther {
		return a
	}
	srcs := sourcesFor(ls, builtinSources)
	for _, s := range srcs {
		for _, t := range s.targets(f)[1:] {
			if t == f {
				continue
			}
			k, name := kindOf(t)
			for _, ds := range s.Datasets {
				if len(srcs) == 1 {
					ds = ""
				}
				alt := altField{ds: ds, kind: k, name: name}
				if !slices.Contains(a.alts, alt) {
					a.alts = append(a.alts, alt)
				}
				if ds == "" {
					break
				}
			}
		}
	}
	return a
}

// RuleWarning is a rule that loads but cannot match as written: a field no
// loaded source produces, a logsource no loaded source provides, a
// placeholder without a value, or a filter that does not apply.
type RuleWarning struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Rule  string `json:"rule"`
	Field string `json:"field,omitempty"`
	Msg   string `json:"message"`
}

func (w RuleWarning) String() string {
	var b strings.Builder
	b.WriteString(w.File)
	if w.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(w.Line))
	}
	b.WriteString(": rule \"" + w.Rule + "\": ")
	if w.Field != "" {
		b.WriteString("field " + w.Field + ": ")
	}
	b.WriteString(w.Msg)
	return b.String()
}

// CheckRule reports what keeps a detection rule (or filter) from matching
// with the given sources (Sources() plus any the caller loads, such as a
// generic JSON mapping): a logsource none of them provides, a field none of
// the applicable ones produces, a placeholder without a value. Correlation
// rules have no fields of their own and yield nothing.
func CheckRule(r *Rule, srcs []Source, placeholders map[string][]string) []RuleWarning {
	if r.detection == nil {
		return nil
	}
	var out []RuleWarning
	warn := func(line int, field, msg string) {
		out = append(out, RuleWarning{File: r.File, Line: line, Rule: r.Title, Field: field, Msg: msg})
	}
	applicable := sourcesFor(r.LogSource, srcs)
	if len(applicable) == 0 {
		warn(r.Line, "", "no loaded source provides logsource "+r.LogSource.String())
	} else {
		seen := map[string]bool{}
		for _, u := range r.detection.fields {
			if seen[u.name] {
				continue
			}
			seen[u.name] = true
			if !slices.ContainsFunc(applicable, func(s *Source) bool { return s.canProduce(u.name) }) {
				names := make([]string, len(applicable))
				for i, s := range applicable {
					names[i] = s.Name
				}
				warn(u.line, u.name, "no loaded source produces it ("+strings.Join(names, ", ")+"); the rule cannot match it")
			}
		}
	}
	for _, ph := range r.detection.placeholders {
		if _, ok := placeholders[ph.name]; !ok {
			warn(ph.line, "", "placeholder %"+ph.name+"% has no value (set it in the placeholders file or the estate); its values never match")
		}
	}
	return out
}

// String renders a logsource as product/service/category.
func (ls LogSource) String() string {
	var parts []string
	for _, kv := range [][2]string{{"product", ls.Product}, {"service", ls.Service}, {"category", ls.Category}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if len(parts) == 0 {
		return "(any)"
	}
	return strings.Join(parts, " ")
}

// covers reports whether a filter with logsource ls applies to a rule with
// logsource r: every part the filter names is the rule's.
func (ls LogSource) covers(r LogSource) bool {
	return (ls.Product == "" || ls.Product == r.Product) && (ls.Service == "" || ls.Service == r.Service) &&
		(ls.Category == "" || ls.Category == r.Category)
}

// dashIsAbsent reports whether every source a rule with logsource ls
// applies to drops "-" values.
func dashIsAbsent(ls LogSource) bool {
	srcs := sourcesFor(ls, builtinSources)
	return len(srcs) > 0 && !slices.ContainsFunc(srcs, func(s *Source) bool { return !s.DashIsAbsent })
}
