package kev

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const snapshot = "testdata/known_exploited_vulnerabilities-2025.08.25.json.gz"

// loadSnapshot parses the real CISA snapshot of 2025-08-25 (CC0).
func loadSnapshot(t testing.TB) *Catalog {
	t.Helper()
	f, err := os.Open(snapshot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(zr, "kev-2025.08.25.json")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseSnapshot(t *testing.T) {
	c := loadSnapshot(t)
	if c.CatalogVersion != "2025.08.25" || c.Count != 1404 || len(c.Vulns) != 1404 {
		t.Fatalf("version %s count %d entries %d", c.CatalogVersion, c.Count, len(c.Vulns))
	}
	if len(c.Warnings) != 0 {
		t.Errorf("unexpected warnings: %q", c.Warnings)
	}
	// 26 entries carry stray white space in some text field.
	if c.Trimmed < 26 {
		t.Errorf("trimmed %d fields, want >= 26", c.Trimmed)
	}
	known := 0
	for _, v := range c.Vulns {
		if v.Ransomware() {
			known++
		}
		if v.VendorProject != strings.TrimSpace(v.VendorProject) || v.Product != strings.TrimSpace(v.Product) || v.VulnerabilityName != strings.TrimSpace(v.VulnerabilityName) {
			t.Errorf("%s not trimmed", v.CVE)
		}
	}
	if known != 293 {
		t.Errorf("known ransomware %d, want 293", known)
	}
	sh, ok := c.Lookup("CVE-2024-57727")
	if !ok || sh.VendorProject != "SimpleHelp" {
		t.Errorf("SimpleHelp: %+v", sh)
	}
	v, _ := c.Lookup("CVE-2018-20753")
	if len(v.CWEs) != 0 || v.DueDate.String() != "2022-05-04" || !v.Ransomware() {
		t.Errorf("CVE-2018-20753: %+v", v)
	}
	legacy, _ := c.Lookup("CVE-2020-1350")
	if !legacy.DueDate.Before(legacy.DateAdded.Time) {
		t.Errorf("CVE-2020-1350 due %s added %s", legacy.DueDate, legacy.DateAdded)
	}
	if v.Line < 2 {
		t.Errorf("line not recorded: %d", v.Line)
	}
}

func TestMatchSnapshot(t *testing.T) {
	c := loadSnapshot(t)
	type m struct {
		CVE            string
		VersionUnknown bool
		MatchedOn      string
	}
	tests := []struct {
		name                          string
		vendor, product, version, cpe string
		want                          []m
	}{
		{name: "screenconnect", vendor: "ConnectWise", product: "ScreenConnect",
			want: []m{{"CVE-2025-3935", true, "product"}, {"CVE-2024-1709", true, "product"}}},
		{name: "screenconnect-combined-no-vendor", product: "ConnectWise ScreenConnect",
			want: []m{{"CVE-2025-3935", true, "product"}, {"CVE-2024-1709", true, "product"}}},
		{name: "screenconnect-bare", product: " screenconnect ",
			want: []m{{"CVE-2025-3935", true, "product"}, {"CVE-2024-1709", true, "product"}}},
		{name: "connectwise-control-alias", vendor: "ConnectWise", product: "Control",
			want: []m{{"CVE-2025-3935", true, "alias"}, {"CVE-2024-1709", true, "alias"}}},
		{name: "kaseya-vsa", vendor: "Kaseya", product: "VSA", version: "9.5.6",
			want: []m{{"CVE-2017-18362", true, "product"}, {"CVE-2018-20753", true, "product"}, {"CVE-2021-30116", true, "product"}}},
		{name: "kaseya-vsa-one-string", product: "Kaseya VSA",
			want: []m{{"CVE-2017-18362", true, "product"}, {"CVE-2018-20753", true, "product"}, {"CVE-2021-30116", true, "product"}}},
		{name: "kaseya-cpe", cpe: "cpe:2.3:a:kaseya:virtual_system_administrator:9.5.6:*:*:*:*:*:*:*",
			want: []m{{"CVE-2017-18362", true, "cpe"}, {"CVE-2018-20753", true, "cpe"}, {"CVE-2021-30116", true, "cpe"}}},
		{name: "simplehelp-trailing-space-vendor", vendor: "simplehelp", product: "SimpleHelp",
			want: []m{{"CVE-2024-57727", true, "product"}}},
		{name: "n-central-old-vendor", vendor: "SolarWinds", product: "N-central",
			want: []m{{"CVE-2025-8875", true, "product"}, {"CVE-2025-8876", true, "product"}}},
		{name: "teamviewer", vendor: "TeamViewer", product: "TeamViewer",
			want: []m{{"CVE-2019-18988", true, "alias"}}},
		{name: "unknown-product", vendor: "NinjaOne", product: "NinjaRMM"},
		{name: "empty"},
		{name: "generic-no-vendor-no-match", product: "Desktop"},
		// Exim: "Exim before 4.70 allows remote attackers …".
		{name: "version-before-affected", vendor: "Exim", product: "Exim", version: "4.69",
			want: []m{{"CVE-2010-4344", false, "product"}}},
		{name: "version-before-fixed", vendor: "Exim", product: "Exim", version: "4.70"},
		// GNU Bash through 4.3.
		{name: "version-through-equal", vendor: "GNU", product: "Bash", version: "4.3",
			want: []m{{"CVE-2014-6271", false, "product"}, {"CVE-2014-7169", false, "product"}}},
		{name: "version-through-above", vendor: "GNU", product: "Bash", version: "5.1.16"},
		{name: "version-unparseable", vendor: "Exim", product: "Exim", version: "latest",
			want: []m{{"CVE-2010-4344", true, "product"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []m
			for _, v := range c.Match(tt.vendor, tt.product, tt.version, tt.cpe) {
				got = append(got, m{v.CVE, v.VersionUnknown, v.MatchedOn})
			}
			// Exim and Bash have several entries; keep the ones named.
			if strings.HasPrefix(tt.name, "version-") {
				got = keep(got, tt.want, func(x m) string { return x.CVE })
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Match(%q,%q,%q,%q) (-got +want):\n%s", tt.vendor, tt.product, tt.version, tt.cpe, diff)
			}
		})
	}
}

func keep[T any](got, want []T, key func(T) string) []T {
	names := map[string]bool{}
	for _, w := range want {
		names[key(w)] = true
	}
	var out []T
	for _, g := range got {
		if names[key(g)] {
			out = append(out, g)
		}
	}
	return out
}

func TestMatchAliasesSnapshot(t *testing.T) {
	c := loadSnapshot(t)
	tests := []struct {
		name                 string
		vendor, product, cpe string
		wantCVE              string
	}{
		{"fortigate", "Fortinet", "FortiGate", "", "CVE-2018-13379"},
		{"fortios-in-list", "Fortinet", "FortiProxy", "", "CVE-2022-40684"},
		{"exchange-2019", "Microsoft", "Exchange Server 2019", "", "CVE-2021-26855"},
		{"exchange-cpe", "", "", "cpe:2.3:a:microsoft:exchange_server:2019:cumulative_update_8:*:*:*:*:*:*", "CVE-2021-26855"},
		{"pulse-secure-vendor", "Pulse Secure", "Pulse Connect Secure", "", "CVE-2019-11510"},
		{"ivanti-epm-abbrev", "Ivanti", "EPM", "", "CVE-2024-29824"},
		{"manageengine", "ManageEngine", "Desktop Central", "", "CVE-2021-44515"},
		{"beyondtrust-remote-support", "BeyondTrust", "Remote Support", "", "CVE-2024-12356"},
		{"sonicwall-spacing", "SonicWall", "SMA 100", "", "CVE-2021-20038"},
		{"sonicwall-sslvpn", "SonicWall", "SMA100", "", "CVE-2021-20016"},
		{"veeam-ampersand", "Veeam", "Backup and Replication", "", "CVE-2023-27532"},
		{"cpe22", "", "", "cpe:/a:connectwise:screenconnect:23.9.7", "CVE-2024-1709"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, v := range c.Match(tt.vendor, tt.product, "", tt.cpe) {
				got = append(got, v.CVE)
			}
			if !contains(got, tt.wantCVE) {
				t.Errorf("Match(%q,%q,%q) = %v, want it to contain %s", tt.vendor, tt.product, tt.cpe, got, tt.wantCVE)
			}
		})
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestVersionAffected(t *testing.T) {
	tests := []struct {
		name, desc, version string
		affected, known     bool
	}{
		{"no-bounds", "Foo has a bug.", "1.0", true, false},
		{"before-below", "Foo before 2.3.1 allows x.", "2.3.0", true, true},
		{"before-equal", "Foo before 2.3.1 allows x.", "2.3.1", false, true},
		{"prior-to", "in versions prior to 5.0 allows", "4.9", true, true},
		{"and-earlier", "Foo 9.1 and earlier allows", "9.1", true, true},
		{"or-earlier", "Foo 9.1.2 or earlier allows", "9.2", false, true},
		{"branches-same-major", "Foo before 9.1.18 and 10.x before 10.1.7 allows", "10.1.6", true, true},
		{"branches-same-major-fixed", "Foo before 9.1.18 and 10.x before 10.1.7 allows", "10.1.7", false, true},
		{"branches-below-all", "Foo before 9.1.18 and 10.x before 10.1.7", "8.0", true, true},
		{"branches-above-all", "Foo before 9.1.18 and 10.x before 10.1.7", "12.0", false, true},
		{"branches-between", "Foo before 9.1.18 and 11.x before 11.1.7", "10.0", true, false},
		{"no-version", "Foo before 2.0", "", true, false},
		{"v-prefix", "Foo before v2.0.1", "v2.0.0", true, true},
		{"build-suffix", "Foo before 23.9.8", "23.9.7.8804", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, k, _ := versionAffected(Vuln{ShortDescription: tt.desc}, tt.version)
			if a != tt.affected || k != tt.known {
				t.Errorf("versionAffected(%q, %q) = %v,%v want %v,%v (bounds %v)", tt.desc, tt.version, a, k, tt.affected, tt.known, Bounds(Vuln{ShortDescription: tt.desc}))
			}
		})
	}
}

const validEntry = `{"cveID":"CVE-2024-1709","vendorProject":"ConnectWise","product":"ScreenConnect","vulnerabilityName":"Auth Bypass","dateAdded":"2024-02-22","shortDescription":"x","requiredAction":"Apply updates.","dueDate":"2024-02-29","knownRansomwareCampaignUse":"Known","notes":"","cwes":[]}`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  string // substring; "" means success
		notJSON  bool
		warn     string
	}{
		{name: "ok", in: `{"catalogVersion":"2024.02.22","dateReleased":"2024-02-22T10:00:00.000Z","count":1,"vulnerabilities":[` + validEntry + `]}`},
		{name: "count-mismatch-is-warning", in: `{"catalogVersion":"2024.02.22","dateReleased":"2024-02-22T10:00:00Z","count":7,"vulnerabilities":[` + validEntry + `]}`, warn: "count is 7 but the catalog holds 1"},
		{name: "version-mismatch-is-warning", in: `{"catalogVersion":"2024.02.21","dateReleased":"2024-02-22T10:00:00Z","count":1,"vulnerabilities":[` + validEntry + `]}`, warn: "does not match dateReleased"},
		{name: "duplicate-is-warning", in: `{"catalogVersion":"2024.02.22","dateReleased":"2024-02-22T10:00:00Z","count":2,"vulnerabilities":[` + validEntry + `,` + validEntry + `]}`, warn: "duplicate entry"},
		{name: "html", in: "<!DOCTYPE html><html><body>Access Denied</body></html>", wantErr: "HTML", notJSON: true},
		{name: "empty", in: "  ", wantErr: "empty", notJSON: true},
		{name: "truncated", in: `{"catalogVersion":"2024.02.22","vulnerabilities":[` + validEntry[:60], wantErr: "truncated", notJSON: true},
		{name: "missing-top", in: `{"vulnerabilities":[` + validEntry + `]}`, wantErr: "catalogVersion: required field missing"},
		{name: "missing-field", in: `{"catalogVersion":"2024.02.22","dateReleased":"2024-02-22T10:00:00Z","count":1,"vulnerabilities":[` + strings.Replace(validEntry, `"requiredAction":"Apply updates.",`, "", 1) + `]}`, wantErr: "requiredAction: required field missing"},
		{name: "bad-date", in: `{"catalogVersion":"2024.02.22","dateReleased":"2024-02-22T10:00:00Z","count":1,"vulnerabilities":[` + strings.Replace(validEntry, `"2024-02-29"`, `"29/02/2024"`, 1) + `]}`, wantErr: "dueDate: invalid date"},
		{name: "bad-cve", in: `{"catalogVersion":"2024.02.22","dateReleased":"2024-02-22T10:00:00Z","count":1,"vulnerabilities":[` + strings.Replace(validEntry, `CVE-2024-1709`, `CVE-24-1`, 1) + `]}`, wantErr: "does not match CVE"},
		{name: "bad-released", in: `{"catalogVersion":"2024.02.22","dateReleased":"yesterday","count":1,"vulnerabilities":[` + validEntry + `]}`, wantErr: "dateReleased: invalid date-time"},
		{name: "no-entries", in: `{"catalogVersion":"2024.02.22","dateReleased":"2024-02-22T10:00:00Z","count":0,"vulnerabilities":[]}`, wantErr: "no entries"},
		{name: "trailing-garbage", in: `{"catalogVersion":"2024.02.22","dateReleased":"2024-02-22T10:00:00Z","count":1,"vulnerabilities":[` + validEntry + `]} {}`, wantErr: "trailing data", notJSON: true},
		{name: "vulns-not-array", in: `{"catalogVersion":"2024.02.22","dateReleased":"2024-02-22T10:00:00Z","count":1,"vulnerabilities":{}}`, wantErr: "must be an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tt.in), "in.json")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tt.warn != "" && !strings.Contains(strings.Join(c.Warnings, "\n"), tt.warn) {
					t.Errorf("warnings %q, want %q", c.Warnings, tt.warn)
				}
				if tt.warn == "" && len(c.Warnings) > 0 {
					t.Errorf("unexpected warnings %q", c.Warnings)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "in.json") {
				t.Errorf("error %q does not name the input", err)
			}
			if got := errors.Is(err, ErrNotJSON); got != tt.notJSON {
				t.Errorf("errors.Is(err, ErrNotJSON) = %v, want %v", got, tt.notJSON)
			}
		})
	}
}

func TestParseCPE(t *testing.T) {
	tests := []struct {
		in   string
		want CPE
		ok   bool
	}{
		{"cpe:2.3:a:connectwise:screenconnect:23.9.7:*:*:*:*:*:*:*", CPE{"a", "connectwise", "screenconnect", "23.9.7"}, true},
		{"cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*", CPE{"o", "fortinet", "fortios", "7.2.4"}, true},
		{`cpe:2.3:a:foo\:bar:baz:*:*:*:*:*:*:*:*`, CPE{"a", "foo:bar", "baz", ""}, true},
		{"cpe:/a:kaseya:virtual_system_administrator:9.5", CPE{"a", "kaseya", "virtual system administrator", "9.5"}, true},
		{"not a cpe", CPE{}, false},
		{"cpe:2.3:a", CPE{Part: "a"}, false},
	}
	for _, tt := range tests {
		got, ok := ParseCPE(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseCPE(%q) = %+v,%v want %+v,%v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSelect(t *testing.T) {
	c := loadSnapshot(t)
	got := c.Select(Filter{Vendor: "kaseya", Ransomware: true})
	if len(got) != 3 {
		t.Fatalf("kaseya ransomware: %d entries", len(got))
	}
	if got[0].CVE != "CVE-2017-18362" { // newest first: added 2022-05-24
		t.Errorf("first %s", got[0].CVE)
	}
	if n := len(c.Select(Filter{CVE: "cve-2024-1709"})); n != 1 {
		t.Errorf("by cve: %d", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"catalogVersion":"2024.02.22","dateReleased":"2024-02-22T10:00:00Z","count":1,"vulnerabilities":[` + validEntry + `]}`)
	f.Add("<html>")
	f.Add(`{"vulnerabilities":[{}]}`)
	f.Add(`{"count":"x","vulnerabilities":[1,2]}`)
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse(strings.NewReader(in), "fuzz")
		if err == nil {
			c.Match("ConnectWise", "ScreenConnect", "1.0", "cpe:2.3:a:x:y")
		}
	})
}

func FuzzMatch(f *testing.F) {
	c := loadSnapshot(f)
	f.Add("ConnectWise", "ScreenConnect", "23.9.7", "")
	f.Add("", "Kaseya VSA", "", "cpe:/a:kaseya:vsa")
	f.Add("", "", "", "cpe:2.3:a:\\:::")
	f.Fuzz(func(t *testing.T, vendor, product, version, cpe string) {
		for _, v := range c.Match(vendor, product, version, cpe) {
			if v.CVE == "" || v.MatchedOn == "" {
				t.Fatalf("bad match %+v", v)
			}
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	c := loadSnapshot(b)
	for b.Loop() {
		c.Match("ConnectWise", "ScreenConnect", "23.9.7", "")
		c.Match("", "Kaseya VSA", "9.5", "")
		c.Match("Microsoft", "Exchange Server 2019", "", "")
	}
}

func BenchmarkParse(b *testing.B) {
	raw, err := os.ReadFile(snapshot)
	if err != nil {
		b.Fatal(err)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(raw))
	data, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data), "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLoadGzipAndPlain checks Load reads the compressed snapshot and the same
// catalog written uncompressed, with identical results.
func TestLoadGzipAndPlain(t *testing.T) {
	gz, err := Load(snapshot)
	if err != nil {
		t.Fatalf("Load(%s): %v", snapshot, err)
	}
	want := loadSnapshot(t)
	if len(gz.Vulns) != len(want.Vulns) || len(gz.Vulns) == 0 {
		t.Fatalf("gzip Load: %d vulns, want %d", len(gz.Vulns), len(want.Vulns))
	}
	f, err := os.Open(snapshot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "kev.json")
	out, err := os.Create(plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	p, err := Load(plain)
	if err != nil {
		t.Fatalf("Load(plain): %v", err)
	}
	if len(p.Vulns) != len(want.Vulns) {
		t.Fatalf("plain Load: %d vulns, want %d", len(p.Vulns), len(want.Vulns))
	}
}
