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
// re-scanned by the encoder's indenter.
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
	compact := make([]byte, 0, len(head)+len(tail)+4096*len(doc.Incidents))
	compact = append(compact, head[:len(head)-1]...)
	compact = append(compact, `,"incidents":[`...)
	for i, inc := range doc.Incidents {
		if i > 0 {
			compact = append(compact, ',')
		}
		a := inc.ECS("", inc.Last)
		compact = a.AppendECS(compact)
	}
	compact = append(compact, "],"...)
	compact = append(compact, tail[1:]...)
	out := appendIndentJSON(make([]byte, 0, len(compact)+len(compact)/2), compact, "  ")
	out = append(out, '\n')
	_, err = w.Write(out)
	return err
}

// appendIndentJSON appends src, compact JSON (as json.Marshal or
// event.AppendECS write it: valid, no whitespace between tokens), indented
// as json.Indent(dst, src, "", indent) does, with the HTML-safe escaping
// json.Encoder applies by default (<, > and & in strings as \u003c, \u003e,
// \u0026; U+2028 and U+2029 as \u2028, \u2029). One pass without the
// encoder's scanner: src is trusted to be valid.
func appendIndentJSON(dst, src []byte, indent string) []byte {
	const hex = "0123456789abcdef"
	depth := 0
	needIndent := false
	newline := func(dst []byte, depth int) []byte {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, indent...)
		}
		return dst
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if needIndent && c != '}' && c != ']' {
			needIndent = false
			depth++
			dst = newline(dst, depth)
		}
		switch c {
		case '"':
			// a string, copied to its closing quote with HTML escaping
			dst = append(dst, '"')
			start := i + 1
			j := start
			for ; j < len(src); j++ {
				b := src[j]
				if b == '\\' {
					j++
					continue
				}
				if b == '"' {
					break
				}
				if b == '<' || b == '>' || b == '&' {
					dst = append(dst, src[start:j]...)
					dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
					start = j + 1
				} else if b == 0xE2 && j+2 < len(src) && src[j+1] == 0x80 && src[j+2]&^1 == 0xA8 {
					dst = append(dst, src[start:j]...)
					dst = append(dst, '\\', 'u', '2', '0', '2', hex[src[j+2]&0xf])
					j += 2
					start = j + 1
				}
			}
			j = min(j, len(src))
			dst = append(dst, src[start:j]...)
			dst = append(dst, '"')
			i = j
		case '{', '[':
			needIndent = true // {} and [] stay empty
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			dst = newline(dst, depth)
		case ':':
			dst = append(dst, c, ' ')
		case '}', ']':
			if needIndent {
				needIndent = false
			} else {
				depth--
				dst = newline(dst, depth)
			}
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
