package estate

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// CSV import: the bulky parts people export from their identity provider and
// RMM (identities, assets, grants), security groups and their members, and
// GDAP access assignments as Partner Center lists them can be CSV files
// declared in an estate file:
//
//	imports:
//	  - kind: assets          # identities | assets | grants | groups | gdap_assignments
//	    file: assets.csv      # relative to the declaring file
//	    home: cedar-law       # default tenant/home for rows without one
//	    columns:              # optional: field -> header in this file
//	      hostname: Computer Name
//
// The first row is the header. Headers are matched case-insensitively, with
// spaces, dots and hyphens read as underscores, against each field's name and
// aliases (CSVColumns documents them); unmapped columns are ignored. Lists
// (groups, roles, agents, ports, software) are separated by ";" or "|".
// Software entries are vendor:product:version. Booleans accept true/false,
// yes/no, 1/0. Dates are YYYY-MM-DD or RFC 3339. An empty cell leaves the
// field unset. Errors name file:line:column where column is the 1-based
// column number, followed by the field and its header.

// CSVColumn documents one importable field.
type CSVColumn struct {
	Field    string   // name used in columns: overrides
	Aliases  []string // other accepted headers (normalised)
	Required bool
	Doc      string
}

type csvCol[T any] struct {
	CSVColumn
	rel string // field path the validator uses (e.g. mfa.methods)
	set func(x *T, s string) error
}

// badValue is a cell error carrying what was expected.
type badValue struct{ expected string }

func (b badValue) Error() string { return "expected " + b.expected }

func bad(expected string) error { return badValue{expected} }

func col[T any](field string, aliases []string, required bool, doc string, set func(*T, string) error) csvCol[T] {
	return csvCol[T]{CSVColumn: CSVColumn{Field: field, Aliases: aliases, Required: required, Doc: doc}, rel: field, set: set}
}

func parseBoolCell(s string) (*bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "y", "1", "enabled":
		return Bool(true), nil
	case "false", "no", "n", "0", "disabled":
		return Bool(false), nil
	}
	return nil, bad("true or false (yes/no, 1/0)")
}

func parseDateCell(s string) (*Date, error) {
	d, err := ParseDate(s)
	if err != nil {
		return nil, bad("a date YYYY-MM-DD or RFC 3339 timestamp")
	}
	return &d, nil
}

func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '|' })
	out := f[:0]
	for _, x := range f {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func enumCell(s string, allowed []string) error {
	if contains(allowed, s) {
		return nil
	}
	return bad("one of " + strings.Join(allowed, ", "))
}

func portsCell(s string) ([]int, error) {
	var ports []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, bad("port numbers 1–65535 separated by ;")
		}
		ports = append(ports, n)
	}
	return ports, nil
}

var identityCols = []csvCol[Identity]{
	col("id", []string{"identity_id", "object_id", "objectid"}, false, "unique id; defaults to upn", func(x *Identity, s string) error { x.ID = s; return nil }),
	col("name", []string{"display_name", "displayname"}, false, "display name", func(x *Identity, s string) error { x.Name = s; return nil }),
	col("upn", []string{"user_principal_name", "userprincipalname", "email", "username"}, false, "sign-in name", func(x *Identity, s string) error { x.UPN = s; return nil }),
	col("kind", []string{"type", "account_type"}, false, "human, service, api_token, break_glass, shared; default human", func(x *Identity, s string) error {
		x.Kind = IdentityKind(s)
		return enumCell(s, enumValues[typeIdentityKind])
	}),
	col("home", []string{"tenant", "tenant_id"}, true, `"msp" or a tenant id; default: the import's home`, func(x *Identity, s string) error { x.Home = s; return nil }),
	col("enabled", []string{"account_enabled", "accountenabled"}, false, "true/false", func(x *Identity, s string) (err error) { x.Enabled, err = parseBoolCell(s); return }),
	col("owner", nil, false, "responsible person or identity", func(x *Identity, s string) error { x.Owner = s; return nil }),
	col("personnel", []string{"hr_status", "employment_status"}, false, "active, departed, on_leave", func(x *Identity, s string) error {
		x.Personnel = s
		return enumCell(s, fieldEnums["Identity.personnel"])
	}),
	col("created", []string{"created_date_time", "createddatetime", "created_at"}, false, "date", func(x *Identity, s string) (err error) { x.Created, err = parseDateCell(s); return }),
	col("last_sign_in", []string{"last_sign_in_date_time", "lastsignindatetime", "last_login", "last_logon"}, false, "date", func(x *Identity, s string) (err error) { x.LastSignIn, err = parseDateCell(s); return }),
	{CSVColumn: CSVColumn{Field: "mfa_enforced", Aliases: []string{"mfa", "mfa_required"}, Doc: "true/false"}, rel: "mfa.enforced",
		set: func(x *Identity, s string) (err error) { x.MFA.Enforced, err = parseBoolCell(s); return }},
	{CSVColumn: CSVColumn{Field: "mfa_methods", Aliases: []string{"methods_registered", "methodsregistered"}, Doc: "list of fido2, passkey, certificate, windows_hello, authenticator_app, totp, push, sms, voice, email"}, rel: "mfa.methods",
		set: func(x *Identity, s string) error {
			for _, m := range splitList(s) {
				if err := enumCell(m, enumValues[typeMFAMethod]); err != nil {
					return err
				}
				x.MFA.Methods = append(x.MFA.Methods, MFAMethod(m))
			}
			return nil
		}},
	col("groups", nil, false, "list of group ids", func(x *Identity, s string) error { x.Groups = splitList(s); return nil }),
	col("roles", nil, false, "list of directory roles", func(x *Identity, s string) error { x.Roles = splitList(s); return nil }),
}

var assetCols = []csvCol[Asset]{
	col("id", []string{"asset_id", "device_id"}, false, "unique id; defaults to <tenant>/<hostname>", func(x *Asset, s string) error { x.ID = s; return nil }),
	col("tenant", []string{"customer", "organization", "org", "site"}, true, `"msp" or a tenant id; default: the import's home`, func(x *Asset, s string) error { x.Tenant = s; return nil }),
	col("hostname", []string{"host", "computer_name", "device_name", "name"}, false, "host name", func(x *Asset, s string) error { x.Hostname = s; return nil }),
	col("kind", []string{"type", "device_type", "role"}, false, "server, workstation, firewall, nas, hypervisor, ...", func(x *Asset, s string) error { x.Kind = s; return nil }),
	col("critical", nil, false, "true/false", func(x *Asset, s string) error {
		b, err := parseBoolCell(s)
		if b != nil {
			x.Critical = *b
		}
		return err
	}),
	col("software", nil, false, "list of vendor:product:version", func(x *Asset, s string) error {
		for _, item := range splitList(s) {
			parts := strings.SplitN(item, ":", 3)
			if len(parts) < 2 || strings.TrimSpace(parts[0]) == "" || strings.TrimSpace(parts[1]) == "" {
				return bad("vendor:product:version entries separated by ;")
			}
			sw := Software{Vendor: strings.TrimSpace(parts[0]), Product: strings.TrimSpace(parts[1])}
			if len(parts) == 3 {
				sw.Version = strings.TrimSpace(parts[2])
			}
			x.Software = append(x.Software, sw)
		}
		return nil
	}),
	col("internet_ports", []string{"exposed_ports", "public_ports"}, false, "list of port numbers", func(x *Asset, s string) (err error) { x.InternetPorts, err = portsCell(s); return }),
	col("end_of_life", []string{"eol"}, false, "true/false", func(x *Asset, s string) (err error) { x.EndOfLife, err = parseBoolCell(s); return }),
	col("last_patched", []string{"last_patch", "patched"}, false, "date", func(x *Asset, s string) (err error) { x.LastPatched, err = parseDateCell(s); return }),
	col("agents", nil, false, "list of tool ids with an agent on the asset", func(x *Asset, s string) error { x.Agents = splitList(s); return nil }),
	col("gold_image", nil, false, "true/false", func(x *Asset, s string) (err error) { x.GoldImage, err = parseBoolCell(s); return }),
}

var grantCols = []csvCol[Grant]{
	col("id", []string{"grant_id"}, false, "unique id; defaults to <file>#<line>", func(x *Grant, s string) error { x.ID = s; return nil }),
	col("subject", []string{"who", "principal"}, true, "identity, group, tool or vendor id", func(x *Grant, s string) error { x.Subject = s; return nil }),
	col("target", []string{"what", "resource"}, true, "tenant, tool, asset, identity or group id", func(x *Grant, s string) error { x.Target = s; return nil }),
	col("privilege", []string{"access", "level"}, true, "read, operate, admin, full_control", func(x *Grant, s string) error {
		x.Privilege = Privilege(s)
		return enumCell(s, enumValues[typePrivilege])
	}),
	col("mode", nil, false, "standing or jit", func(x *Grant, s string) error { x.Mode = s; return enumCell(s, fieldEnums["Grant.mode"]) }),
	col("expires", []string{"expiry", "end_date"}, false, "date", func(x *Grant, s string) (err error) { x.Expires, err = parseDateCell(s); return }),
	col("scope", nil, false, "free text", func(x *Grant, s string) error { x.Scope = s; return nil }),
	col("roles", nil, false, "list of roles conveyed", func(x *Grant, s string) error { x.Roles = splitList(s); return nil }),
	col("via", nil, false, "tool id through which the access is exercised", func(x *Grant, s string) error { x.Via = s; return nil }),
}

var groupCols = []csvCol[Group]{
	col("id", []string{"group_id", "object_id", "objectid", "group"}, true, "group id (or its display name when the estate names groups so)", func(x *Group, s string) error { x.ID = s; return nil }),
	col("name", []string{"display_name", "displayname", "group_name"}, false, "display name", func(x *Group, s string) error { x.Name = s; return nil }),
	col("home", []string{"tenant", "tenant_id"}, true, `"msp" or a tenant id; default: the import's home`, func(x *Group, s string) error { x.Home = s; return nil }),
	col("members", []string{"member", "user_principal_name", "userprincipalname", "upn", "member_upn"}, false,
		"identity ids or UPNs (a list, or one per row: rows of one group merge)", func(x *Group, s string) error { x.Members = splitList(s); return nil }),
}

// gdapRow is one row of a GDAP assignments export: one security group's
// roles in one relationship.
type gdapRow struct {
	Relationship string // tool id, relationship id or display name
	Customer     string // customer tenant id (or Entra tenant id)
	GDAPAssignment
}

// gdapCols map GDAP access assignment exports. Besides firebreak's own
// names they read the shapes Microsoft documents for Partner Center
// tooling: the GDAP bulk migration tool's securityGroup.csv (Id,
// DisplayName, CommaSeperatedRoles — one row per security group, roles as
// Microsoft Entra role template ids, assigned in every relationship; see
// https://learn.microsoft.com/en-us/partner-center/gdap-bulk-migration-tool)
// and a flattened delegatedAdminAccessAssignment (accessContainer
// .accessContainerId, accessDetails.unifiedRoles) with its
// relationship's id (GdapRelationshipId, as the tool's accessAssignment.csv
// names it) or Customer.TenantId.
var gdapCols = []csvCol[gdapRow]{
	col("relationship", []string{"relationship_id", "relationship_name", "gdap_relationship", "admin_relationship", "gdaprelationshipid", "delegatedadminrelationshipid"}, false,
		"the GDAP tool's id, its relationship_id, or the relationship's name (no relationship or customer column: every relationship, as the bulk migration tool assigns)", func(x *gdapRow, s string) error { x.Relationship = s; return nil }),
	col("customer", []string{"customer_tenant_id", "tenant_id", "customer_id", "customer_tenantid", "customer_name", "customer_displayname"}, false,
		"the customer's tenant id (or Entra tenant id) when the relationship column is absent", func(x *gdapRow, s string) error { x.Customer = s; return nil }),
	col("group", []string{"security_group", "security_group_id", "access_container", "accesscontainer_accesscontainerid", "accesscontainerid", "group_id", "id", "group_name", "displayname"}, true,
		"the access group's id or display name", func(x *gdapRow, s string) error { x.Group = s; return nil }),
	col("roles", []string{"role", "microsoft_entra_roles", "azure_ad_roles", "unified_roles", "accessdetails_unifiedroles", "commaseperatedroles", "commaseparatedroles", "roledefinitionid"}, false,
		"list of roles by name or Microsoft Entra role template id, separated by ;, | or , (default: the relationship's)", func(x *gdapRow, s string) error {
			x.Roles = roleNames(splitRoles(s))
			return nil
		}),
	col("assignment", []string{"assignment_type", "access_type", "type", "pim"}, false, "active or eligible (PIM just in time); default active", func(x *gdapRow, s string) error {
		x.Assignment = strings.ToLower(s)
		switch x.Assignment {
		case "permanent", "standing":
			x.Assignment = AssignActive
		case "jit", "just_in_time", "just-in-time":
			x.Assignment = AssignEligible
		}
		return enumCell(x.Assignment, fieldEnums["GDAPAssignment.assignment"])
	}),
}

// splitRoles splits a roles cell on ;, | and , (role names hold no comma;
// the bulk migration tool separates template ids with commas).
func splitRoles(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '|' || r == ',' })
	out := f[:0]
	for _, x := range f {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// roleNames replaces Microsoft Entra role template ids by role names
// (EntraRoleTemplates); other values are kept as written.
func roleNames(rs []string) []string {
	for i, r := range rs {
		if n, ok := EntraRoleTemplates[strings.ToLower(strings.Trim(r, "{}"))]; ok {
			rs[i] = n
		}
	}
	return rs
}

// EntraRoleTemplates maps the template ids of Microsoft Entra built-in
// roles (the "Template ID" column of Microsoft's built-in roles reference,
// learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference)
// to their names, for the roles GDAP relationships commonly carry.
var EntraRoleTemplates = map[string]string{
	"62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
	"e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
	"7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
	"fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
	"8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2": "Hybrid Identity Administrator",
	"9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
	"158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
	"c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
	"b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
	"194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
	"5d6b6bb7-de71-4623-b4af-96380a352509": "Security Reader",
	"29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
	"f28a1f50-f6e7-4571-818b-6a12f2af6b6c": "SharePoint Administrator",
	"69091246-20e8-4a56-aa4d-066075b2a7a8": "Teams Administrator",
	"3a2c62db-5318-420d-8d74-23affee5d9d5": "Intune Administrator",
	"729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
	"f023fd81-a637-4b56-95fd-791ac0226033": "Service Support Administrator",
	"b0f54661-2d74-4c50-afa3-1ec803f12efe": "Billing Administrator",
	"b5468a13-3945-4a40-b0b1-5d78c2676bbf": "Mailbox Administrator",
	"4ba39ca4-527c-499a-b93d-d9b492c50246": "Partner Tier1 Support",
	"e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8": "Partner Tier2 Support",
	"88d8e3e3-8f55-4a1e-953a-9b9898b8876b": "Directory Readers",
	"f2ef992c-3afb-46b9-b7cf-a126ee74c451": "Global Reader",
}

var (
	typeIdentityKind = reflect.TypeFor[IdentityKind]()
	typeMFAMethod    = reflect.TypeFor[MFAMethod]()
	typePrivilege    = reflect.TypeFor[Privilege]()
)

// CSVColumns returns the documented column mapping of one import kind
// (identities, assets, grants), or nil for an unknown kind.
func CSVColumns(kind string) []CSVColumn {
	switch kind {
	case "identities":
		return docs(identityCols)
	case "assets":
		return docs(assetCols)
	case "grants":
		return docs(grantCols)
	case "groups":
		return docs(groupCols)
	case "gdap_assignments":
		return docs(gdapCols)
	}
	return nil
}

func docs[T any](cols []csvCol[T]) []CSVColumn {
	out := make([]CSVColumn, len(cols))
	for i, c := range cols {
		out[i] = c.CSVColumn
	}
	return out
}

// csvFile remembers an imported file's header mapping, to locate cells.
type csvFile struct {
	name    string
	cols    map[string]csvCell // validator rel path -> column
	missing map[string]bool    // required columns reported missing once
}

type csvCell struct {
	index  int // 0-based column
	header string
	field  string
}

func (c *csvFile) locate(obj Pos, rel string, elem int) (Pos, string) {
	cell, ok := c.cols[rel]
	if !ok {
		return obj, rel
	}
	return Pos{File: obj.File, Line: obj.Line, Col: cell.index + 1}, fmt.Sprintf("%s (column %q)", cell.field, cell.header)
}

func normHeader(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-', '/':
			return '_'
		}
		return r
	}, s)
}

// runImports reads every CSV import declared by the loaded files.
func (l *loader) runImports() error {
	for _, pi := range l.imports {
		imp := pi.imp
		o := obj{list: "imports", i: pi.idx, pos: imp.Pos}
		if imp.File == "" || imp.Kind == "" {
			if imp.File == "" {
				l.errAt(o, "file", "missing required field", "a CSV file path relative to "+pi.from)
			}
			if imp.Kind == "" {
				l.errAt(o, "kind", "missing required field", "identities, assets, grants, groups or gdap_assignments")
			}
			continue
		}
		name := imp.File
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(pi.from), name)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				l.errAt(o, "file", "CSV file "+strconv.Quote(name)+" not found", "a CSV file path relative to "+pi.from)
				continue
			}
			return fmt.Errorf("loading estate: %w", err)
		}
		l.est.Sources = append(l.est.Sources, name)
		l.importCSV(imp, o, name, data)
	}
	return nil
}

func (l *loader) errAt(o obj, rel, msg, expected string) {
	pos, path, _ := l.locate(o.pos, rel, -1, fmt.Sprintf("%s[%d].%s", o.list, o.i, rel))
	l.probs.add(pos, path, msg, expected)
}

// importCSV parses data as the import's kind and appends the rows.
func (l *loader) importCSV(imp CSVImport, o obj, name string, data []byte) {
	switch imp.Kind {
	case "identities":
		importRows(l, imp, o, name, data, identityCols, &l.est.Identities, func(x *Identity, line int) {
			if x.ID == "" {
				x.ID = x.UPN
			}
			if x.Kind == "" {
				x.Kind = KindHuman
			}
			if x.Home == "" {
				x.Home = imp.Home
			}
		})
	case "assets":
		importRows(l, imp, o, name, data, assetCols, &l.est.Assets, func(x *Asset, line int) {
			if x.Tenant == "" {
				x.Tenant = imp.Home
			}
			if x.ID == "" && x.Hostname != "" {
				x.ID = x.Tenant + "/" + x.Hostname
			}
		})
	case "grants":
		base := filepath.Base(name)
		importRows(l, imp, o, name, data, grantCols, &l.est.Grants, func(x *Grant, line int) {
			if x.ID == "" {
				x.ID = base + "#" + strconv.Itoa(line)
			}
		})
	case "groups":
		// Rows of one group (one member per row, as directory exports
		// list them) merge into one group.
		var rows []Group
		importRows(l, imp, o, name, data, groupCols, &rows, func(x *Group, line int) {
			if x.Home == "" {
				x.Home = imp.Home
			}
		})
		at := map[string]int{}
		for _, g := range rows {
			if i, ok := at[g.ID]; ok {
				for _, m := range g.Members {
					if !slices.Contains(l.est.Groups[i].Members, m) {
						l.est.Groups[i].Members = append(l.est.Groups[i].Members, m)
					}
				}
				continue
			}
			at[g.ID] = len(l.est.Groups)
			l.est.Groups = append(l.est.Groups, g)
		}
	case "gdap_assignments":
		importRows(l, imp, o, name, data, gdapCols, &l.gdapRows, func(x *gdapRow, line int) {
			if x.Customer == "" {
				x.Customer = imp.Home
			}
			if x.Assignment == "" {
				x.Assignment = AssignActive
			}
		})
	}
}

// mergeImported resolves what imports name loosely — group members given
// as UPNs, GDAP assignment rows naming a relationship and a group by id,
// relationship id or display name — and files GDAP rows under their
// relationship's tool. Unresolvable rows are problems at their cells.
func (l *loader) mergeImported() {
	e := l.est
	ids := make(map[string]bool, len(e.Identities))
	byUPN := make(map[string]string, len(e.Identities))
	for i := range e.Identities {
		ids[e.Identities[i].ID] = true
		if u := strings.ToLower(e.Identities[i].UPN); u != "" {
			byUPN[u] = e.Identities[i].ID
		}
	}
	groupIDs := map[string]bool{}
	groupByName := map[string]string{}
	for i := range e.Groups {
		g := &e.Groups[i]
		groupIDs[g.ID] = true
		if g.Name != "" {
			groupByName[strings.ToLower(g.Name)] = g.ID
		}
		for j, m := range g.Members {
			if !ids[m] && !groupIDs[m] {
				if id, ok := byUPN[strings.ToLower(m)]; ok {
					g.Members[j] = id
				}
			}
		}
	}
	if len(l.gdapRows) == 0 {
		return
	}
	entra := map[string]string{}
	for i := range e.Tenants {
		if t := e.Tenants[i].EntraTenantID; t != "" {
			entra[strings.ToLower(t)] = e.Tenants[i].ID
		}
	}
	for ri := range l.gdapRows {
		r := &l.gdapRows[ri]
		cell := func(field string) Pos {
			p := r.Pos
			if cf := l.csv[p.File]; cf != nil {
				if c, ok := cf.cols[field]; ok {
					p.Col = c.index + 1
				}
			}
			return p
		}
		cust := r.Customer
		if t, ok := entra[strings.ToLower(cust)]; ok {
			cust = t
		}
		var match []int
		every := r.Relationship == "" && cust == ""
		for ti := range e.Tools {
			t := &e.Tools[ti]
			if t.GDAP == nil {
				continue
			}
			switch {
			case every:
				// The bulk migration tool's securityGroup.csv: each group
				// is assigned in every relationship.
				if !t.GDAP.Status.Inactive() {
					match = append(match, ti)
				}
			case r.Relationship != "" && (t.ID == r.Relationship || t.GDAP.RelationshipID == r.Relationship || strings.EqualFold(t.Name, r.Relationship)):
				match = append(match, ti)
			case r.Relationship == "" && cust != "" && t.GDAP.Customer == cust:
				match = append(match, ti)
			}
		}
		if len(match) != 1 && !(every && len(match) > 0) {
			what, field := "relationship "+strconv.Quote(r.Relationship), "relationship"
			if r.Relationship == "" {
				what, field = "customer "+strconv.Quote(cust), "customer"
			}
			msg := "no GDAP relationship (tool of kind gdap) for " + what
			if len(match) > 1 {
				msg = fmt.Sprintf("%d GDAP relationships match %s", len(match), what)
			}
			l.probs.add(cell(field), field, msg, "a gdap tool's id, gdap.relationship_id or name (or the customer of exactly one relationship)")
			continue
		}
		if !groupIDs[r.Group] {
			if id, ok := groupByName[strings.ToLower(r.Group)]; ok {
				r.Group = id
			}
		}
		for _, ti := range match {
			gd := e.Tools[ti].GDAP
			gd.Assignments = append(gd.Assignments, r.GDAPAssignment)
		}
	}
}

// ImportCSV parses one CSV file of the given kind on its own (no reference
// checks): it returns the rows as a partial estate, or a *ValidationError.
func ImportCSV(r io.Reader, name, kind, home string, columns map[string]string) (*Estate, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	l := newLoader()
	if !contains(fieldEnums["CSVImport.kind"], kind) {
		return nil, fmt.Errorf("importing %s: unknown kind %q (expected %s)", name, kind, strings.Join(fieldEnums["CSVImport.kind"], ", "))
	}
	imp := CSVImport{Kind: kind, File: name, Home: home, Columns: columns}
	l.importCSV(imp, obj{list: "imports"}, name, data)
	if err := l.probs.err(); err != nil {
		return nil, err
	}
	return l.est, nil
}

// importRows parses data and appends one T per row to *dst.
func importRows[T any](l *loader, imp CSVImport, o obj, name string, data []byte, cols []csvCol[T], dst *[]T, fill func(*T, int)) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // Excel's UTF-8 BOM
	r := csv.NewReader(bufio.NewReaderSize(bytes.NewReader(data), 64<<10))
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		l.probs.add(Pos{File: name, Line: 1, Col: 1}, "", "empty CSV file", "a header row naming the columns")
		return
	}
	if err != nil {
		l.probs.add(csvErrPos(name, err), "", "CSV syntax error: "+csvErrMsg(err), "valid CSV (RFC 4180)")
		return
	}
	header = append([]string(nil), header...)
	byHeader := make(map[string]int, len(header))
	for i, h := range header {
		k := normHeader(h)
		if prev, dup := byHeader[k]; dup {
			l.probs.add(Pos{File: name, Line: 1, Col: i + 1}, "", fmt.Sprintf("duplicate column %q (also column %d)", h, prev+1), "each header once")
			continue
		}
		byHeader[k] = i
	}
	// Validate column overrides.
	known := make(map[string]bool, len(cols))
	var fieldNames []string
	for _, c := range cols {
		known[c.Field] = true
		fieldNames = append(fieldNames, c.Field)
	}
	overrideKeys := make([]string, 0, len(imp.Columns))
	for k := range imp.Columns {
		overrideKeys = append(overrideKeys, k)
	}
	sort.Strings(overrideKeys)
	for _, k := range overrideKeys {
		if !known[k] {
			pos, _, _ := l.locate(o.pos, "columns", -1, "")
			l.probs.add(pos, fmt.Sprintf("%s[%d].columns.%s", o.list, o.i, k), "unknown "+imp.Kind+" field", "one of "+strings.Join(fieldNames, ", "))
		}
	}
	// Map fields to columns.
	type mapped struct {
		col   int
		field *csvCol[T]
	}
	var use []mapped
	cf := &csvFile{name: name, cols: map[string]csvCell{}, missing: map[string]bool{}}
	for i := range cols {
		c := &cols[i]
		idx := -1
		if h, ok := imp.Columns[c.Field]; ok {
			if j, ok := byHeader[normHeader(h)]; ok {
				idx = j
			} else {
				l.probs.add(Pos{File: name, Line: 1, Col: 1}, "", fmt.Sprintf("missing column %q (mapped to field %s by columns:)", h, c.Field), "a header "+strconv.Quote(h))
				cf.missing[c.rel] = true
				continue
			}
		} else {
			for _, cand := range append([]string{c.Field}, c.Aliases...) {
				if j, ok := byHeader[normHeader(cand)]; ok {
					idx = j
					break
				}
			}
		}
		if idx < 0 {
			if c.Required && !(c.Field == "home" || c.Field == "tenant") || (c.Required && imp.Home == "") {
				l.probs.add(Pos{File: name, Line: 1, Col: 1}, "", fmt.Sprintf("missing required column %q", c.Field),
					"a header "+strconv.Quote(c.Field)+" (or one of its aliases), or columns."+c.Field+" naming the header"+homeHint(c.Field))
				cf.missing[c.rel] = true
			}
			continue
		}
		use = append(use, mapped{col: idx, field: c})
		cf.cols[c.rel] = csvCell{index: idx, header: header[idx], field: c.Field}
	}
	if imp.Kind == "identities" {
		_, hasID := cf.cols["id"]
		_, hasUPN := cf.cols["upn"]
		if !hasID && !hasUPN {
			l.probs.add(Pos{File: name, Line: 1, Col: 1}, "", `missing required column "id"`, `a header "id" or "upn" (the id defaults to the upn)`)
			cf.missing["id"] = true
		}
	}
	if imp.Kind == "assets" {
		_, hasID := cf.cols["id"]
		_, hasHost := cf.cols["hostname"]
		if !hasID && !hasHost {
			l.probs.add(Pos{File: name, Line: 1, Col: 1}, "", `missing required column "id"`, `a header "id" or "hostname" (the id defaults to <tenant>/<hostname>)`)
			cf.missing["id"] = true
		}
	}
	l.csv[name] = cf
	*dst = slices.Grow(*dst, bytes.Count(data, []byte{'\n'}))
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			l.probs.add(csvErrPos(name, err), "", "CSV syntax error: "+csvErrMsg(err), "valid CSV (RFC 4180)")
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				continue
			}
			break
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			l.probs.add(Pos{File: name, Line: line, Col: 1}, "", fmt.Sprintf("row has %d columns, header has %d", len(rec), len(header)), "one cell per header column")
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		var x T
		for _, m := range use {
			s := strings.TrimSpace(rec[m.col])
			if s == "" {
				continue
			}
			if err := m.field.set(&x, s); err != nil {
				exp := ""
				var bv badValue
				if errors.As(err, &bv) {
					exp = bv.expected
				}
				l.probs.add(Pos{File: name, Line: line, Col: m.col + 1}, fmt.Sprintf("%s (column %q)", m.field.Field, header[m.col]),
					"invalid value "+strconv.Quote(truncate(s, 40)), exp)
			}
		}
		setPos(&x, Pos{File: name, Line: line, Col: 1})
		fill(&x, line)
		*dst = append(*dst, x)
	}
}

func homeHint(field string) string {
	if field == "home" || field == "tenant" {
		return ", or home: on the import"
	}
	return ""
}

func setPos(x any, p Pos) {
	switch v := x.(type) {
	case *Identity:
		v.Pos = p
	case *Asset:
		v.Pos = p
	case *Grant:
		v.Pos = p
	case *Group:
		v.Pos = p
	case *gdapRow:
		v.Pos = p
	}
}

func csvErrPos(name string, err error) Pos {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return Pos{File: name, Line: pe.Line, Col: pe.Column}
	}
	return Pos{File: name, Line: 1, Col: 1}
}

func csvErrMsg(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
