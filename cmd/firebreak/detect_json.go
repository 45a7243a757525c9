package main

import (
	"encoding/json"
	"io"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/ingest"
)

// detectJSONDoc is the document `detect --format json` writes.
type detectJSONDoc struct {
	Version   string              `json:"version"`
	Cases     []detect.Case       `json:"cases"`   // one per attacker; incident_ids refer to incidents[].event.id
	Incidents []*detect.Incident  `json:"-"`       // written as "incidents": ECS alert documents (Incident.ECS)
	Input     ingest.Stats        `json:"input"`   // written after the incidents
	Engine    detect.Stats        `json:"engine"`  //
	Seconds   float64             `json:"seconds"` //
	Rules     []map[string]string `json:"rules,omitempty"`
	Skipped   []string            `json:"skipped_inputs,omitempty"` // files in input directories not readable as logs, with the reason
}

// writeDetectJSON writes doc as encoding/json's Encoder with
// SetIndent("", "  ") would write it with the incidents as a field between
// "cases" and "input", byte for byte (TestDetectJSONLikeEncoder), at a
// fraction of the cost: the incidents' ECS documents, most of the output,
// are appended directly instead of being validated, compacted and
// re-scanned by the encoder's indenter, and indented one at a time into a
// buffer flushed every 64 KiB (the whole document is never held: on a day
// with hundreds of incidents it was megabytes of fresh memory, compact and
// indented, whose page faults cost as much as the indenting).
func writeDetectJSON(w io.Writer, doc *detectJSONDoc) error {
	head, err := json.Marshal(struct {
		Version string        `json:"version"`
		Cases   []detect.Case `json:"cases"`
	}{doc.Version, doc.Cases})
	if err != nil {
		return err
	}
	tail, err := json.Marshal(struct {
		Input   ingest.Stats        `json:"input"`
		Engine  detect.Stats        `json:"engine"`
		Seconds float64             `json:"seconds"`
		Rules   []map[string]string `json:"rules,omitempty"`
		Skipped []string            `json:"skipped_inputs,omitempty"`
	}{doc.Input, doc.Engine, doc.Seconds, doc.Rules, doc.Skipped})
	if err != nil {
		return err
	}
	const flushAt = 64 << 10
	ind := jsonIndenter{indent: "  "}
	out := make([]byte, 0, flushAt+flushAt/2)
	flush := func() error {
		_, err := w.Write(out)
		out = out[:0]
		return err
	}
	out = ind.append(out, head[:len(head)-1])
	out = ind.append(out, []byte(`,"incidents":[`))
	var compact []byte
	for i, inc := range doc.Incidents {
		compact = compact[:0]
		if i > 0 {
			compact = append(compact, ',')
		}
		a := inc.ECS("", inc.Last)
		compact = a.AppendECS(compact)
		out = ind.append(out, compact)
		if len(out) >= flushAt {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	out = ind.append(out, []byte("],"))
	out = ind.append(out, tail[1:])
	out = append(out, '\n')
	return flush()
}

// appendIndentJSON appends src, compact JSON (as json.Marshal or
// event.AppendECS write it: valid, no whitespace between tokens), indented
// as json.Indent(dst, src, "", indent) does, with the HTML-safe escaping
// json.Encoder applies by default (<, > and & in strings as \u003c, \u003e,
// \u0026; U+2028 and U+2029 as \u2028, \u2029). One pass without the
// encoder's scanner: src is trusted to be valid.
func appendIndentJSON(dst, src []byte, indent string) []byte {
	ind := jsonIndenter{indent: indent}
	return ind.append(dst, src)
}

// jsonIndenter is appendIndentJSON for a document given in pieces: each
// piece is a run of whole tokens (no string or number split between two),
// the nesting carries over from one to the next.
type jsonIndenter struct {
	indent     string
	depth      int
	needIndent bool
	nl         []byte // "\n" and indent repeated, at least depth times
}

// jsonPlain marks the bytes a string copies as they are: not '"', '\\',
// the HTML-sensitive '<', '>', '&' or 0xE2 (the first byte of U+2028 and
// U+2029).
var jsonPlain = func() (t [256]bool) {
	for i := range t {
		t[i] = true
	}
	for _, c := range []byte{'"', '\\', '<', '>', '&', 0xE2} {
		t[c] = false
	}
	return t
}()

func (j *jsonIndenter) newline(dst []byte) []byte {
	n := 1 + j.depth*len(j.indent)
	for len(j.nl) < n {
		if len(j.nl) == 0 {
			j.nl = append(j.nl, '\n')
		}
		j.nl = append(j.nl, j.indent...)
	}
	return append(dst, j.nl[:n]...)
}

func (j *jsonIndenter) append(dst, src []byte) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(src); i++ {
		c := src[i]
		if j.needIndent && c != '}' && c != ']' {
			j.needIndent = false
			j.depth++
			dst = j.newline(dst)
		}
		switch c {
		case '"':
			// a string, copied to its closing quote with HTML escaping
			dst = append(dst, '"')
			start := i + 1
			k := start
			for k < len(src) {
				for k < len(src) && jsonPlain[src[k]] {
					k++
				}
				if k >= len(src) {
					break
				}
				b := src[k]
				if b == '"' {
					break
				}
				if b == '\\' {
					k += 2
					continue
				}
				if b == '<' || b == '>' || b == '&' {
					dst = append(dst, src[start:k]...)
					dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
					start = k + 1
				} else if b == 0xE2 && k+2 < len(src) && src[k+1] == 0x80 && src[k+2]&^1 == 0xA8 {
					dst = append(dst, src[start:k]...)
					dst = append(dst, '\\', 'u', '2', '0', '2', hex[src[k+2]&0xf])
					k += 2
					start = k + 1
				}
				k++
			}
			k = min(k, len(src))
			dst = append(dst, src[start:k]...)
			dst = append(dst, '"')
			i = k
		case '{', '[':
			j.needIndent = true // {} and [] stay empty
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			dst = j.newline(dst)
		case ':':
			dst = append(dst, c, ' ')
		case '}', ']':
			if j.needIndent {
				j.needIndent = false
			} else {
				j.depth--
				dst = j.newline(dst)
			}
			dst = append(dst, c)
		default:
			// a number or literal, copied up to the next structural byte
			k := i + 1
			for k < len(src) && src[k] != ',' && src[k] != '}' && src[k] != ']' && src[k] != ':' {
				k++
			}
			dst = append(dst, src[i:k]...)
			i = k - 1
		}
	}
	return dst
}
