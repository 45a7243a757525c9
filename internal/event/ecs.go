package event

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// ECSVersion is the Elastic Common Schema version firebreak's JSON output
// follows (the "ecs.version" field of every event and incident it emits).
const ECSVersion = "8.17.0"

// ecsDatasets maps firebreak's internal dataset names (what the parsers set
// and the Sigma logsources match) to the dataset names Elastic's own
// integrations use for the same logs, so a SIEM that already has Elastic's
// dashboards and rules recognises them. Datasets without an Elastic
// equivalent keep their name.
var ecsDatasets = [][2]string{
	{"sshd", "system.auth"},                    // Elastic System integration, auth log
	{"windows.security", "system.security"},    // Elastic System integration, Windows Security channel
	{"entra.signin", "azure.signinlogs"},       // Elastic Azure Logs integration
	{"okta.system", "okta.system"},             // Elastic Okta integration
	{"m365.audit", "o365.audit"},               // Elastic Microsoft 365 integration
	{"google.login", "google_workspace.login"}, // Elastic Google Workspace integration
}

// ECSDataset returns the event.dataset name firebreak emits for an internal
// dataset name.
func ECSDataset(internal string) string {
	for _, d := range ecsDatasets {
		if d[0] == internal {
			return d[1]
		}
	}
	return internal
}

// DatasetFromECS is the inverse of ECSDataset.
func DatasetFromECS(ecs string) string {
	for _, d := range ecsDatasets {
		if d[1] == ecs {
			return d[0]
		}
	}
	return ecs
}

// MarshalJSON writes the event as an ECS document (see AppendECS).
func (e Event) MarshalJSON() ([]byte, error) { return AppendECS(nil, &e), nil }

// AppendECS appends e as one ECS JSON document (nested objects, as Elastic
// writes them) to dst:
//
//	@timestamp, ecs.version, event.{kind,category,action,outcome,reason,code,
//	dataset,module}, user.{name,domain}, source.{ip,port}, host.name,
//	organization.id, message, log.{file.path,offset}, and firebreak.{dataset,count,
//	line,fields} for what ECS has no field for (the source's own fields stay
//	under their own names there, for Sigma rules).
//
// It is the one encoder for events leaving firebreak: the API, the
// JetStream payload, `detect --format jsonl` and the SIEM exporters.
func AppendECS(dst []byte, e *Event) []byte {
	dst = append(dst, `{"@timestamp":`...)
	dst = appendTime(dst, e.Timestamp)
	dst = append(dst, `,"ecs":{"version":"`+ECSVersion+`"},"event":{"kind":"event"`...)
	if e.Category != "" {
		dst = append(dst, `,"category":[`...)
		dst = AppendString(dst, e.Category)
		dst = append(dst, ']')
	}
	dst = field(dst, "action", e.Action)
	dst = field(dst, "outcome", e.Outcome)
	dst = field(dst, "reason", e.Reason)
	dst = field(dst, "code", e.Code)
	if e.Dataset != "" {
		ds := ECSDataset(e.Dataset)
		dst = field(dst, "dataset", ds)
		mod := ds
		for i := range len(ds) {
			if ds[i] == '.' {
				mod = ds[:i]
				break
			}
		}
		dst = field(dst, "module", mod)
	}
	dst = append(dst, '}')
	if e.UserName != "" || e.UserDomain != "" {
		dst = append(dst, `,"user":{`...)
		dst = fields(dst, "name", e.UserName, "domain", e.UserDomain)
		dst = append(dst, '}')
	}
	if e.SourceIP.IsValid() || e.SourcePort != 0 {
		dst = append(dst, `,"source":{`...)
		sep := false
		if e.SourceIP.IsValid() {
			dst = append(dst, `"ip":"`...)
			dst = e.SourceIP.AppendTo(dst)
			dst = append(dst, '"')
			sep = true
		}
		if e.SourcePort != 0 {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"port":`...)
			dst = strconv.AppendInt(dst, int64(e.SourcePort), 10)
		}
		dst = append(dst, '}')
	}
	if e.HostName != "" {
		dst = append(dst, `,"host":{"name":`...)
		dst = AppendString(dst, e.HostName)
		dst = append(dst, '}')
	}
	if e.Tenant != "" {
		dst = append(dst, `,"organization":{"id":`...)
		dst = AppendString(dst, e.Tenant)
		dst = append(dst, '}')
	}
	if e.Message != "" {
		dst = append(dst, `,"message":`...)
		dst = AppendString(dst, e.Message)
	}
	if e.File != "" {
		dst = append(dst, `,"log":{"file":{"path":`...)
		dst = AppendString(dst, e.File)
		dst = append(dst, `},"offset":`...)
		dst = strconv.AppendInt(dst, e.Offset, 10)
		dst = append(dst, '}')
	}
	fb := e.Dataset != "" || e.Count != 0 || e.Line != 0 || len(e.Fields) > 0
	if fb {
		dst = append(dst, `,"firebreak":{`...)
		sep := false
		if e.Dataset != "" {
			dst = append(dst, `"dataset":`...)
			dst = AppendString(dst, e.Dataset)
			sep = true
		}
		if e.Count != 0 {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"count":`...)
			dst = strconv.AppendInt(dst, int64(e.Count), 10)
			sep = true
		}
		if e.Line != 0 {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"line":`...)
			dst = strconv.AppendInt(dst, e.Line, 10)
			sep = true
		}
		if len(e.Fields) > 0 {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"fields":`...)
			dst = appendStringMap(dst, e.Fields)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// field appends ,"name":"v" when v is not empty.
func field(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return AppendString(dst, v)
}

// fields appends "n1":"v1","n2":"v2" skipping empty values, with no leading comma.
func fields(dst []byte, kv ...string) []byte {
	sep := false
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, kv[i]...)
		dst = append(dst, '"', ':')
		dst = AppendString(dst, kv[i+1])
		sep = true
	}
	return dst
}

// appendStringMap appends m as a JSON object with sorted keys.
func appendStringMap(dst []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, k)
		dst = append(dst, ':')
		dst = AppendString(dst, m[k])
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does; <, > and & are not escaped (the output is not HTML).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ecsWire is what UnmarshalJSON accepts: the ECS document AppendECS writes,
// and the Go-named JSON firebreak wrote before it (still in JetStream
// streams and old exports).
type ecsWire struct {
	Timestamp *time.Time `json:"@timestamp"`
	Message   string     `json:"message"`
	Event     *struct {
		Category json.RawMessage `json:"category"` // string or array
		Action   string          `json:"action"`
		Outcome  string          `json:"outcome"`
		Reason   string          `json:"reason"`
		Code     string          `json:"code"`
		Dataset  string          `json:"dataset"`
	} `json:"event"`
	User *struct {
		Name   string `json:"name"`
		Domain string `json:"domain"`
	} `json:"user"`
	Source *struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	} `json:"source"`
	Host *struct {
		Name string `json:"name"`
	} `json:"host"`
	Organization *struct {
		ID string `json:"id"`
	} `json:"organization"`
	Log *struct {
		File struct {
			Path string `json:"path"`
		} `json:"file"`
		Offset int64 `json:"offset"`
	} `json:"log"`
	Firebreak *struct {
		Dataset string            `json:"dataset"`
		Count   int               `json:"count"`
		Line    int64             `json:"line"`
		Fields  map[string]string `json:"fields"`
	} `json:"firebreak"`
}

// legacyWire is the Go-named JSON of Event before it had a MarshalJSON.
type legacyWire struct {
	Timestamp  time.Time
	Category   string
	Action     string
	Outcome    string
	Reason     string
	Code       string
	Count      int
	UserName   string
	UserDomain string
	SourceIP   netip.Addr
	SourcePort int
	HostName   string
	Tenant     string
	Dataset    string
	Message    string
	Fields     map[string]string
	File       string
	Offset     int64
	Line       int64
}

// UnmarshalJSON reads an ECS document written by AppendECS, or the
// Go-named JSON of earlier versions (recognised by its "Timestamp" key).
func (e *Event) UnmarshalJSON(b []byte) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	if _, ok := probe["@timestamp"]; !ok {
		if _, legacy := probe["Timestamp"]; legacy {
			var l legacyWire
			if err := json.Unmarshal(b, &l); err != nil {
				return fmt.Errorf("legacy event: %w", err)
			}
			*e = Event(l)
			return nil
		}
	}
	var w ecsWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("ECS event: %w", err)
	}
	*e = Event{}
	if w.Timestamp != nil {
		e.Timestamp = *w.Timestamp
	}
	e.Message = w.Message
	if ev := w.Event; ev != nil {
		e.Action, e.Outcome, e.Reason, e.Code = ev.Action, ev.Outcome, ev.Reason, ev.Code
		e.Dataset = DatasetFromECS(ev.Dataset)
		if len(ev.Category) > 0 && string(ev.Category) != "null" {
			var cats []string
			if err := json.Unmarshal(ev.Category, &cats); err != nil {
				var one string
				if err2 := json.Unmarshal(ev.Category, &one); err2 != nil {
					return fmt.Errorf("ECS event: event.category: want a string or an array of strings")
				}
				cats = []string{one}
			}
			if len(cats) > 0 {
				e.Category = cats[0]
			}
		}
	}
	if u := w.User; u != nil {
		e.UserName, e.UserDomain = u.Name, u.Domain
	}
	if s := w.Source; s != nil {
		if s.IP != "" {
			a, err := netip.ParseAddr(s.IP)
			if err != nil {
				return fmt.Errorf("ECS event: source.ip: %w", err)
			}
			e.SourceIP = a
		}
		e.SourcePort = s.Port
	}
	if w.Host != nil {
		e.HostName = w.Host.Name
	}
	if w.Organization != nil {
		e.Tenant = w.Organization.ID
	}
	if l := w.Log; l != nil {
		e.File, e.Offset = l.File.Path, l.Offset
	}
	if f := w.Firebreak; f != nil {
		if f.Dataset != "" {
			e.Dataset = f.Dataset
		}
		e.Count, e.Line = f.Count, f.Line
		if len(f.Fields) > 0 {
			e.Fields = f.Fields
		}
	}
	return nil
}
