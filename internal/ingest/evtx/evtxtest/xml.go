package evtxtest

import (
	"bytes"
	"fmt"
	"html"
)

// XML renders events as `wevtutil qe /f:xml` prints them (one <Event>
// after another, CRLF between, no root), or, with bom and root, as Event
// Viewer's "Save as XML" writes them (a byte order mark, a prolog and an
// <Events> root): the same records Write puts in an .evtx file.
func XML(evs []Event, bom, root bool) []byte {
	var b bytes.Buffer
	if bom {
		b.WriteString("\ufeff")
	}
	if root {
		b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Events>")
	}
	for i, e := range evs {
		ch, prov := e.Channel, e.Provider
		if ch == "" {
			ch = "Security"
		}
		if prov == "" {
			prov = "Microsoft-Windows-Security-Auditing"
		}
		fmt.Fprintf(&b, `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='%s' Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/><EventID>%d</EventID><Version>0</Version><Level>0</Level><Task>14339</Task><Opcode>0</Opcode><Keywords>0x8010000000000000</Keywords><TimeCreated SystemTime='%s'/><EventRecordID>%d</EventRecordID><Correlation/><Execution ProcessID='636' ThreadID='1120'/><Channel>%s</Channel><Computer>%s</Computer><Security/></System><EventData>`,
			prov, e.ID, e.Time.UTC().Format("2006-01-02T15:04:05.0000000Z"), i+1, ch, e.Computer)
		for _, kv := range e.Data {
			fmt.Fprintf(&b, "<Data Name='%s'>%s</Data>", kv[0], html.EscapeString(kv[1]))
		}
		b.WriteString("</EventData></Event>")
		if !root {
			b.WriteString("\r\n")
		}
	}
	if root {
		b.WriteString("</Events>")
	}
	return b.Bytes()
}
