package estate

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// WriteOptions controls WriteDir.
type WriteOptions struct {
	// Bulk is the format of identities, grants and assets: "csv" (default,
	// fast to load at hundreds of thousands of rows) or "yaml".
	Bulk string
}

// WriteDir writes e as an estate directory that Load reads back: one YAML
// file per section, and identities/grants/assets as CSV imports (or YAML).
// The directory is created if needed; existing files of the same names are
// replaced.
func WriteDir(dir string, e *Estate, o WriteOptions) error {
	if o.Bulk == "" {
		o.Bulk = "csv"
	}
	if o.Bulk != "csv" && o.Bulk != "yaml" {
		return fmt.Errorf("writing estate: unknown bulk format %q (expected csv or yaml)", o.Bulk)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing estate: %w", err)
	}
	type doc = map[string]any
	provider := doc{"provider": e.Provider}
	if e.Settings != (Settings{}) {
		provider["settings"] = e.Settings
	}
	files := []struct {
		name string
		v    any
	}{
		{"provider.yaml", provider},
		{"tenants.yaml", doc{"tenants": e.Tenants}},
		{"tools.yaml", doc{"tools": e.Tools, "groups": e.Groups}},
		{"backups.yaml", doc{"backups": e.Backups}},
		{"plans.yaml", doc{"ir_plans": e.IRPlans}},
		{"contracts.yaml", doc{"contracts": e.Contracts}},
		{"vendors.yaml", doc{"vendors": e.Vendors}},
	}
	if len(e.Attestations) > 0 || len(e.Exceptions) > 0 {
		files = append(files, struct {
			name string
			v    any
		}{"governance.yaml", doc{"attestations": e.Attestations, "exceptions": e.Exceptions}})
	}
	if o.Bulk == "yaml" {
		files = append(files,
			struct {
				name string
				v    any
			}{"identities.yaml", doc{"identities": e.Identities}},
			struct {
				name string
				v    any
			}{"grants.yaml", doc{"grants": e.Grants}},
			struct {
				name string
				v    any
			}{"assets.yaml", doc{"assets": e.Assets}})
	} else {
		files = append(files, struct {
			name string
			v    any
		}{"imports.yaml", doc{"imports": []CSVImport{
			{Kind: "identities", File: "identities.csv"},
			{Kind: "grants", File: "grants.csv"},
			{Kind: "assets", File: "assets.csv"},
		}}})
	}
	for _, f := range files {
		if err := writeYAML(filepath.Join(dir, f.name), f.v); err != nil {
			return err
		}
	}
	if o.Bulk == "csv" {
		if err := writeCSV(filepath.Join(dir, "identities.csv"), identityHeader, e.Identities, identityRow); err != nil {
			return err
		}
		if err := writeCSV(filepath.Join(dir, "grants.csv"), grantHeader, e.Grants, grantRow); err != nil {
			return err
		}
		if err := writeCSV(filepath.Join(dir, "assets.csv"), assetHeader, e.Assets, assetRow); err != nil {
			return err
		}
	}
	return nil
}

func writeYAML(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing estate: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	err = enc.Encode(v)
	if err == nil {
		err = enc.Close()
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing estate %s: %w", path, err)
	}
	return nil
}

func writeCSV[T any](path string, header []string, rows []T, row func(*T, []string)) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing estate: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	err = w.Write(header)
	rec := make([]string, len(header))
	for i := 0; i < len(rows) && err == nil; i++ {
		clear(rec)
		row(&rows[i], rec)
		err = w.Write(rec)
	}
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing estate %s: %w", path, err)
	}
	return nil
}

func boolCell(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

func dateCell(d *Date) string {
	if d == nil {
		return ""
	}
	return d.String()
}

var identityHeader = []string{"id", "name", "upn", "kind", "home", "enabled", "owner", "personnel", "created", "last_sign_in", "mfa_enforced", "mfa_methods", "groups", "roles"}

func identityRow(x *Identity, r []string) {
	r[0], r[1], r[2], r[3], r[4] = x.ID, x.Name, x.UPN, string(x.Kind), x.Home
	r[5], r[6], r[7], r[8], r[9] = boolCell(x.Enabled), x.Owner, x.Personnel, dateCell(x.Created), dateCell(x.LastSignIn)
	r[10] = boolCell(x.MFA.Enforced)
	m := make([]string, len(x.MFA.Methods))
	for i, v := range x.MFA.Methods {
		m[i] = string(v)
	}
	r[11], r[12], r[13] = strings.Join(m, ";"), strings.Join(x.Groups, ";"), strings.Join(x.Roles, ";")
}

var grantHeader = []string{"id", "subject", "target", "privilege", "mode", "expires", "scope", "roles", "via"}

func grantRow(x *Grant, r []string) {
	r[0], r[1], r[2], r[3], r[4] = x.ID, x.Subject, x.Target, string(x.Privilege), x.Mode
	r[5], r[6], r[7], r[8] = dateCell(x.Expires), x.Scope, strings.Join(x.Roles, ";"), x.Via
}

var assetHeader = []string{"id", "tenant", "hostname", "kind", "critical", "software", "internet_ports", "end_of_life", "last_patched", "agents", "gold_image"}

func assetRow(x *Asset, r []string) {
	r[0], r[1], r[2], r[3] = x.ID, x.Tenant, x.Hostname, x.Kind
	if x.Critical {
		r[4] = "true"
	}
	sw := make([]string, len(x.Software))
	for i, s := range x.Software {
		sw[i] = s.Vendor + ":" + s.Product
		if s.Version != "" {
			sw[i] += ":" + s.Version
		}
	}
	r[5] = strings.Join(sw, ";")
	ports := make([]string, len(x.InternetPorts))
	for i, p := range x.InternetPorts {
		ports[i] = strconv.Itoa(p)
	}
	r[6], r[7], r[8], r[9], r[10] = strings.Join(ports, ";"), boolCell(x.EndOfLife), dateCell(x.LastPatched), strings.Join(x.Agents, ";"), boolCell(x.GoldImage)
}
