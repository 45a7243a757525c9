package kev

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// vendorAliases maps other names of a vendor (compact form) to the compact
// vendorProject KEV uses.
var vendorAliases = map[string]string{
	"screenconnect":        "connectwise",
	"manageengine":         "zoho",
	"zohocorp":             "zoho",
	"zohocorporation":      "zoho",
	"pulsesecure":          "ivanti",
	"mobileiron":           "ivanti",
	"bomgar":               "beyondtrust",
	"netscaler":            "citrix",
	"fortigate":            "fortinet",
	"solarwindsmsp":        "nable",
	"nablesolutions":       "nable",
	"microsoftcorporation": "microsoft",
	"msft":                 "microsoft",
	"paloalto":             "paloaltonetworks",
	"panw":                 "paloaltonetworks",
	"vmwarebybroadcom":     "vmware",
	"broadcom":             "vmware",
	"kaseyalimited":        "kaseya",
	"kaseyaus":             "kaseya",
	"ciscosystems":         "cisco",
	"f5networks":           "f5",
	"sonicwallinc":         "sonicwall",
	"teamviewergermany":    "teamviewer",
	"veeamsoftware":        "veeam",
	"progresssoftware":     "progress",
	"ivantiinc":            "ivanti",
}

// vendorPrefixes are extra leading names stripped from a product per vendor
// (besides the vendor's own name), e.g. "ManageEngine Desktop Central".
var vendorPrefixes = map[string][]string{
	"zoho":        {"manageengine"},
	"ivanti":      {"pulse secure", "mobileiron"},
	"citrix":      {},
	"fortinet":    {},
	"nable":       {"n able", "solarwinds msp"},
	"kaseya":      {},
	"vmware":      {"vmware by broadcom"},
	"sonicwall":   {},
	"beyondtrust": {"bomgar"},
}

// productAliases maps, per KEV vendor, other product names (compact form) to
// the compact KEV product key.
var productAliases = map[string]map[string][]string{
	"connectwise": {
		"control":              {"screenconnect"},
		"connectwisecontrol":   {"screenconnect"},
		"screenconnectserver":  {"screenconnect"},
		"screenconnectcontrol": {"screenconnect"},
	},
	"kaseya": {
		"virtualsystemadministrator": {"vsa"},
		"virtualserveradministrator": {"vsa"},
		"vsaserver":                  {"vsa"},
		"kaseyavsa":                  {"vsa"},
	},
	"fortinet": {
		"fortigate":       {"fortios"},
		"fortigatesslvpn": {"fortios"},
		"fortiossslvpn":   {"fortios"},
		"sslvpn":          {"fortios"},
	},
	"microsoft": {
		"exchange":             {"exchange", "exchangeserver"},
		"exchangeserver":       {"exchange", "exchangeserver"},
		"outlookwebaccess":     {"exchangeserver"},
		"outlookwebapp":        {"exchangeserver"},
		"owa":                  {"exchangeserver"},
		"rds":                  {"remotedesktopservices"},
		"remotedesktop":        {"remotedesktopservices"},
		"remotedesktopgateway": {"remotedesktopservices"},
		"terminalservices":     {"remotedesktopservices"},
		"sharepoint":           {"sharepoint", "sharepointserver"},
	},
	"teamviewer": {
		"teamviewer":       {"desktop"},
		"teamviewerremote": {"desktop"},
		"remote":           {"desktop"},
	},
	"ivanti": {
		"pulseconnectsecure": {"pulseconnectsecure", "connectsecure"},
		"connectsecure":      {"pulseconnectsecure", "connectsecure"},
		"ics":                {"connectsecure", "pulseconnectsecure"},
		"epm":                {"endpointmanager"},
		"epmm":               {"endpointmanagermobile"},
	},
	"zoho": {
		"endpointcentral": {"desktopcentral"},
		"servicedesk":     {"servicedeskplus"},
	},
	"paloaltonetworks": {
		"globalprotect": {"panos"},
		"firewall":      {"panos"},
	},
	"beyondtrust": {
		"remotesupport":       {"remotesupport"},
		"rs":                  {"remotesupport"},
		"pra":                 {"privilegedremoteaccess"},
		"bomgarremotesupport": {"remotesupport"},
		"securermotesupport":  {"remotesupport"},
	},
	"nable": {
		"ncentral":      {"ncentral"},
		"ncentralsc":    {"ncentral"},
		"nablencentral": {"ncentral"},
	},
	"citrix": {
		"netscaler":        {"netscaleradc", "netscalergateway", "adc", "gateway"},
		"adc":              {"adc", "netscaleradc", "applicationdeliverycontroller"},
		"citrixgateway":    {"gateway", "netscalergateway"},
		"netscalergateway": {"netscalergateway", "gateway"},
	},
	"veeam": {
		"backupandreplication": {"backupandreplication"},
		"vbr":                  {"backupandreplication"},
	},
	"simplehelp": {
		"simplehelpserver": {"simplehelp"},
		"remotesupport":    {"simplehelp"},
	},
	"sonicwall": {
		"sma":    {"sma100", "sma1000"},
		"sma100": {"sma100", "sslvpnsma100"},
		"sra":    {"secureremoteaccess"},
	},
}

// crossVendor maps (vendor, product) pairs whose product moved to another
// vendor, compact form "vendor/product".
var crossVendor = map[string][2]string{
	"solarwinds/ncentral":       {"nable", "ncentral"},
	"pulsesecure/connectsecure": {"ivanti", "pulseconnectsecure"},
}

// index maps compact vendor → compact product key → entry indexes.
type index struct {
	byVendor map[string]map[string][]int
	vendors  []vendorName // for inferring a vendor from a product
	byProd   map[string][]int
}

type vendorName struct {
	tokens []string
	key    string
}

// tokens splits into lower-case alphanumeric words; "&" is "and".
func tokens(s string) []string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.ReplaceAll(s, "&", " and ")
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func compact(s string) string { return strings.Join(tokens(s), "") }

func canonVendor(v string) string {
	k := compact(v)
	if a, ok := vendorAliases[k]; ok {
		return a
	}
	return k
}

var parenRE = regexp.MustCompile(`\s*\(([^)]*)\)`)

// productKeys expands a KEV product name into index keys.
func productKeys(vendor, product string) []string {
	var keys []string
	addKey := func(s string) {
		k := compact(s)
		if k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	var variants func(s string, split bool)
	variants = func(s string, split bool) {
		s = strings.TrimSpace(s)
		if s == "" {
			return
		}
		addKey(s)
		if parenRE.MatchString(s) {
			for _, m := range parenRE.FindAllStringSubmatch(s, -1) {
				addKey(m[1])
			}
			variants(parenRE.ReplaceAllString(s, ""), false)
		}
		if rest, ok := stripPrefix(s, vendor); ok {
			variants(rest, false)
		}
		t := tokens(s)
		if n := len(t); n > 1 && (t[n-1] == "appliance" || t[n-1] == "appliances") {
			addKey(strings.Join(t[:n-1], " "))
		}
		if split {
			for _, part := range splitList(s) {
				variants(part, false)
			}
		}
	}
	variants(product, true)
	return keys
}

// splitList splits "A, B, and C" / "A and B" / "A / B" into parts.
func splitList(s string) []string {
	r := strings.NewReplacer(", and ", "|", ",", "|", " and ", "|", " / ", "|")
	parts := strings.Split(r.Replace(s), "|")
	if len(parts) < 2 {
		return nil
	}
	return parts
}

// stripPrefix removes a leading vendor name (tokens) from s.
func stripPrefix(s, vendor string) (string, bool) {
	st, vt := tokens(s), tokens(vendor)
	if len(vt) == 0 || len(st) <= len(vt) || !slices.Equal(st[:len(vt)], vt) {
		return "", false
	}
	return strings.Join(st[len(vt):], " "), true
}

func buildIndex(vs []Vuln) *index {
	ix := &index{byVendor: map[string]map[string][]int{}, byProd: map[string][]int{}}
	seenVendor := map[string]bool{}
	for i, v := range vs {
		vk := canonVendor(v.VendorProject)
		m := ix.byVendor[vk]
		if m == nil {
			m = map[string][]int{}
			ix.byVendor[vk] = m
		}
		for _, k := range productKeys(v.VendorProject, v.Product) {
			m[k] = append(m[k], i)
		}
		pk := compact(v.Product)
		ix.byProd[pk] = append(ix.byProd[pk], i)
		if !seenVendor[vk] {
			seenVendor[vk] = true
			ix.vendors = append(ix.vendors, vendorName{tokens: tokens(v.VendorProject), key: vk})
		}
	}
	for alias, vk := range vendorAliases {
		if seenVendor[vk] {
			ix.vendors = append(ix.vendors, vendorName{tokens: []string{alias}, key: vk})
		}
	}
	// Longer names first so "Palo Alto Networks" wins over "Palo".
	slices.SortStableFunc(ix.vendors, func(a, b vendorName) int {
		if c := len(b.tokens) - len(a.tokens); c != 0 {
			return c
		}
		return strings.Compare(strings.Join(a.tokens, " "), strings.Join(b.tokens, " "))
	})
	return ix
}

// CPE is the vendor, product and version of a CPE name.
type CPE struct{ Part, Vendor, Product, Version string }

// ParseCPE parses a CPE 2.3 formatted string (cpe:2.3:a:vendor:product:version:…)
// or a CPE 2.2 URI (cpe:/a:vendor:product:version). "*" and "-" are empty.
func ParseCPE(s string) (CPE, bool) {
	s = strings.TrimSpace(s)
	var f []string
	switch {
	case strings.HasPrefix(strings.ToLower(s), "cpe:2.3:"):
		f = splitCPE(s[len("cpe:2.3:"):])
	case strings.HasPrefix(strings.ToLower(s), "cpe:/"):
		f = strings.Split(s[len("cpe:/"):], ":")
	default:
		return CPE{}, false
	}
	get := func(i int) string {
		if i >= len(f) {
			return ""
		}
		v := strings.ReplaceAll(f[i], `\`, "")
		if v == "*" || v == "-" {
			return ""
		}
		return strings.ReplaceAll(v, "_", " ")
	}
	c := CPE{Part: get(0), Vendor: get(1), Product: get(2), Version: get(3)}
	return c, c.Vendor != "" && c.Product != ""
}

// splitCPE splits on ':' not escaped by '\'.
func splitCPE(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
		case s[i] == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, cur.String())
}

// Match returns the KEV entries affecting a product (see the package
// documentation for the rules), newest first. Any argument may be empty.
func (c *Catalog) Match(vendor, product, version, cpe string) []Vuln {
	if c == nil || c.idx == nil {
		return nil
	}
	type hit struct {
		i   int
		how string
	}
	var hits []hit
	seen := map[int]bool{}
	addAll := func(is []int, how string) {
		for _, i := range is {
			if !seen[i] {
				seen[i] = true
				hits = append(hits, hit{i, how})
			}
		}
	}
	c.lookup(vendor, product, addAll, "product")
	if p, ok := ParseCPE(cpe); ok {
		c.lookup(p.Vendor, p.Product, addAll, "cpe")
		if strings.TrimSpace(version) == "" {
			version = p.Version
		}
	}
	var out []Vuln
	for _, h := range hits {
		v := c.Vulns[h.i]
		v.MatchedOn = h.how
		affected, known, desc := versionAffected(v, version)
		if known && !affected {
			continue
		}
		v.VersionUnknown = !known
		v.Affected = desc
		out = append(out, v)
	}
	sortVulns(out)
	return out
}

func (c *Catalog) lookup(vendor, product string, add func([]int, string), how string) {
	product = strings.TrimSpace(product)
	if product == "" {
		return
	}
	ix := c.idx
	vk := canonVendor(vendor)
	if vk == "" {
		// Infer the vendor from a leading vendor name in the product.
		pt := tokens(product)
		for _, vn := range ix.vendors {
			if len(pt) > len(vn.tokens) && slices.Equal(pt[:len(vn.tokens)], vn.tokens) {
				vk = vn.key
				break
			}
		}
		if vk == "" {
			// No vendor at all: only an exact, distinctive full product
			// name matches ("ScreenConnect", not "Desktop").
			if pk := compact(product); len(pk) >= 5 && !genericProducts[pk] {
				add(ix.byProd[pk], how)
			}
			return
		}
	}
	if cv, ok := crossVendor[vk+"/"+compact(product)]; ok {
		vk = cv[0]
		product = cv[1]
	}
	m := ix.byVendor[vk]
	if m == nil {
		return
	}
	// Candidate product keys for the input.
	var cands []string
	addCand := func(s string) {
		k := compact(s)
		if k != "" && !slices.Contains(cands, k) {
			cands = append(cands, k)
		}
	}
	prefixes := append([]string{vendor}, vendorPrefixes[vk]...)
	for _, vn := range ix.vendors {
		if vn.key == vk {
			prefixes = append(prefixes, strings.Join(vn.tokens, " "))
		}
	}
	forms := []string{product}
	for _, p := range prefixes {
		if rest, ok := stripPrefix(product, p); ok {
			forms = append(forms, rest)
		}
	}
	for _, f := range forms {
		addCand(f)
		if t := tokens(f); len(t) > 1 && versionish(t[len(t)-1]) {
			addCand(strings.Join(t[:len(t)-1], " "))
		}
	}
	direct := len(cands)
	for i := 0; i < direct; i++ {
		for _, a := range productAliases[vk][cands[i]] {
			if !slices.Contains(cands, a) {
				cands = append(cands, a)
			}
		}
	}
	for i, k := range cands {
		h := how
		if i >= direct && how == "product" {
			h = "alias"
		}
		add(m[k], h)
	}
	// "Multiple Products" entries of the vendor match when their text names
	// the product ("Fortinet FortiOS, FortiProxy, and FortiSwitchManager …").
	for _, i := range m[multipleProducts] {
		text := compact(c.Vulns[i].ShortDescription + " " + c.Vulns[i].VulnerabilityName)
		for _, k := range cands[:direct] {
			if len(k) >= 4 && !genericProducts[k] && strings.Contains(text, k) {
				add([]int{i}, "description")
				break
			}
		}
	}
}

const multipleProducts = "multipleproducts"

// genericProducts are KEV product names too generic to match without a vendor.
var genericProducts = map[string]bool{
	"desktop": true, "server": true, "tools": true, "firewall": true, "gateway": true,
	"router": true, "routers": true, "multipleproducts": true, "webappliance": true,
	"client": true, "agent": true, "console": true, "manager": true, "sentry": true,
	"orion": false, "multiplerouters": true, "multipledevices": true,
}

// versionish reports whether a token looks like a release (2019, 23, v10).
func versionish(t string) bool {
	t = strings.TrimPrefix(t, "v")
	if t == "" {
		return false
	}
	for _, r := range t {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// Bound is an upper bound on affected versions parsed from KEV text.
type Bound struct {
	Version   string
	Inclusive bool // "through X" (<=) rather than "before X" (<)
}

func (b Bound) String() string {
	if b.Inclusive {
		return "<= " + b.Version
	}
	return "< " + b.Version
}

var (
	ver          = `v?(\d+(?:\.\d+)+)`
	beforeRE     = regexp.MustCompile(`(?i)\b(?:before|prior to|earlier than|below|older than)\s+(?:versions?\s+|release\s+|build\s+)?` + ver)
	throughRE    = regexp.MustCompile(`(?i)\b(?:through|up to(?: and including)?|to and including)\s+(?:versions?\s+|release\s+|build\s+)?` + ver)
	andEarlierRE = regexp.MustCompile(`(?i)` + ver + `(?:\s+\([^)]*\))?\s+(?:and|or)\s+(?:earlier|prior|below|older)`)
)

// Bounds parses affected-version upper bounds from a KEV entry's
// shortDescription and vulnerabilityName.
func Bounds(v Vuln) []Bound {
	text := v.ShortDescription + " \n " + v.VulnerabilityName
	var out []Bound
	add := func(s string, incl bool) {
		b := Bound{Version: s, Inclusive: incl}
		if !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	for _, m := range beforeRE.FindAllStringSubmatch(text, -1) {
		add(m[1], false)
	}
	for _, m := range throughRE.FindAllStringSubmatch(text, -1) {
		add(m[1], true)
	}
	for _, m := range andEarlierRE.FindAllStringSubmatch(text, -1) {
		add(m[1], true)
	}
	return out
}

// versionAffected decides whether version is affected by v. known is false
// when that cannot be decided; desc is the affected range as text.
func versionAffected(v Vuln, version string) (affected, known bool, desc string) {
	bounds := Bounds(v)
	if len(bounds) == 0 {
		return true, false, ""
	}
	parts := make([]string, len(bounds))
	for i, b := range bounds {
		parts[i] = b.String()
	}
	desc = strings.Join(parts, " or ")
	have, ok := parseVersion(version)
	if !ok {
		return true, false, desc
	}
	sat := func(b Bound) bool {
		bv, _ := parseVersion(b.Version)
		c := compareVersions(have, bv)
		return c < 0 || (b.Inclusive && c == 0)
	}
	var branch []Bound
	for _, b := range bounds {
		bv, _ := parseVersion(b.Version)
		if bv[0] == have[0] {
			branch = append(branch, b)
		}
	}
	if len(branch) > 0 {
		return slices.ContainsFunc(branch, sat), true, desc
	}
	below, above := true, true
	for _, b := range bounds {
		if sat(b) {
			above = false
		} else {
			below = false
		}
	}
	switch {
	case below:
		return true, true, desc
	case above:
		return false, true, desc
	}
	return true, false, desc
}

var leadingNum = regexp.MustCompile(`^v?(\d+(?:[.\-_]\d+)*)`)

func parseVersion(s string) ([]int, bool) {
	m := leadingNum.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return nil, false
	}
	var out []int
	for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, false
		}
		out = append(out, n)
	}
	return out, len(out) > 0
}

func compareVersions(a, b []int) int {
	for i := range max(len(a), len(b)) {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// String describes a match for messages.
func (v Vuln) String() string {
	s := fmt.Sprintf("%s %s %s (due %s", v.CVE, v.VendorProject, v.Product, v.DueDate)
	if v.Ransomware() {
		s += ", ransomware"
	}
	return s + ")"
}
