package detect

import "strings"

// knownProducts maps Sigma products (and product/service pairs) to the
// datasets the ingest parsers set.
var knownProducts = map[string]string{
	"linux":            "sshd",
	"linux/sshd":       "sshd",
	"linux/auth":       "sshd",
	"linux/ssh":        "sshd",
	"windows":          "windows.security",
	"windows/security": "windows.security",
	"azure":            "entra.signin",
	"azure/signinlogs": "entra.signin",
	"entra":            "entra.signin",
	"entra/signinlogs": "entra.signin",
	"okta":             "okta.system",
	"okta/okta":        "okta.system",
}

// datasetLinuxAuth is the dataset of Linux authentication events not from
// sshd (su, sudo, PAM of other services), as internal/ingest sets it.
const datasetLinuxAuth = "linux.auth"

var categoryMap = map[string]string{
	"process_creation": "process",
	"authentication":   "authentication",
}

// matches reports whether an event of the given dataset and category belongs
// to the log source.
func (ls LogSource) matches(dataset, category string) bool {
	if ls.Category != "" {
		want := ls.Category
		if m, ok := categoryMap[want]; ok {
			want = m
		}
		if !strings.EqualFold(category, want) {
			return false
		}
	}
	if ls.Product == "" && ls.Service == "" {
		return true
	}
	dataset = strings.ToLower(dataset)
	if ls.Product != "" {
		key := ls.Product
		if ls.Service != "" {
			key += "/" + ls.Service
		}
		if ds, ok := knownProducts[key]; ok {
			// product linux and linux/auth also take su, sudo and other
			// PAM services' events (linux.auth); linux/sshd only sshd's.
			return dataset == ds || dataset == datasetLinuxAuth && (key == "linux" || key == "linux/auth")
		}
		if _, ok := knownProducts[ls.Product]; ok && ls.Service != "" {
			// A known product with another service (windows/system,
			// linux/auditd): only events of dataset product.service.
			return dataset == ls.Product+"."+ls.Service
		}
		if ls.Service != "" {
			return dataset == ls.Product+"."+ls.Service || dataset == ls.Service
		}
		return dataset == ls.Product || strings.HasPrefix(dataset, ls.Product+".")
	}
	return dataset == ls.Service || strings.HasSuffix(dataset, "."+ls.Service)
}
