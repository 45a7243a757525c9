package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// msEventData are the EventData names of the Security events the Windows
// readers parse, from Microsoft's event schemas (4624, 4625, 4634, 4647,
// 4648, 4672, 4740, 4767, 4768, 4769, 4771, 4776).
var msEventData = []string{
	"SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId",
	"TargetUserSid", "TargetUserName", "TargetDomainName", "TargetLogonId", "TargetSid",
	"LogonType", "LogonProcessName", "AuthenticationPackageName", "WorkstationName", "Workstation",
	"LogonGuid", "TransmittedServices", "LmPackageName", "KeyLength", "ProcessId", "ProcessName",
	"IpAddress", "IpPort", "ImpersonationLevel", "RestrictedAdminMode", "ElevatedToken",
	"VirtualAccount", "TargetLinkedLogonId", "TargetOutboundUserName", "TargetOutboundDomainName",
	"Status", "SubStatus", "FailureReason", "TargetServerName", "TargetInfo", "TargetLogonGuid",
	"PrivilegeList", "ServiceName", "ServiceSid", "TicketOptions", "TicketEncryptionType",
	"PreAuthType", "CertIssuerName", "CertSerialNumber", "CertThumbprint", "PackageName",
}

// TestAdvertisedWindowsFields: every field the windows-security source
// advertises to Sigma rules (detect.Sources Produces) is set by the Windows
// readers on a fixture whose events carry every EventData name, as .evtx
// and as rendered XML, and every field they set is advertised, so the list
// cannot drift from the parser (it listed 19 EventData names no reader
// kept: a rule on KeyLength loaded as matchable and never fired).
func TestAdvertisedWindowsFields(t *testing.T) {
	var src detect.Source
	for _, s := range detect.Sources() {
		if s.Name == "windows-security" {
			src = s
		}
	}
	if src.Name == "" {
		t.Fatal("no windows-security source")
	}
	var evs []evtxtest.Event
	for i, id := range []int{4624, 4625, 4634, 4647, 4648, 4672, 4740, 4767, 4768, 4769, 4771, 4776} {
		var data [][2]string
		for _, n := range msEventData {
			v := "v-" + n
			switch n {
			case "IpAddress":
				v = "203.0.113.7"
			case "IpPort":
				v = "50123"
			case "LogonType":
				v = "3"
			case "Status", "SubStatus":
				v = "0xc000006a"
				if id >= 4768 && id <= 4771 {
					v = "0x18"
				}
			}
			data = append(data, [2]string{n, v})
		}
		evs = append(evs, evtxtest.Event{ID: id, Time: fixtureBase.Add(time.Duration(i) * time.Second), Computer: "DC01.corp.example", Data: data})
	}
	for _, form := range []struct {
		name string
		data []byte
	}{{"all.evtx", evtxtest.Write(evs)}, {"all.xml", renderXML(evs, false, false)}} {
		r, err := NewReader(form.name, bytes.NewReader(form.data), Options{})
		if err != nil {
			t.Fatal(err)
		}
		produced := map[string]bool{}
		n := 0
		for {
			var ev event.Event
			err := r.Next(&ev)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
			for k := range ev.Fields {
				produced[k] = true
			}
			for name, set := range map[string]bool{"host.name": ev.HostName != "", "user.domain": ev.UserDomain != "",
				"source.port": ev.SourcePort != 0, "user.name": ev.UserName != "", "source.ip": ev.SourceIP.IsValid()} {
				if set {
					produced[name] = true
				}
			}
		}
		if n != len(evs) {
			t.Fatalf("%s: %d events, want %d", form.name, n, len(evs))
		}
		// A name is available when a reader sets it or when the source maps
		// it to a field a reader sets.
		avail := func(f string) bool {
			if produced[f] {
				return true
			}
			return slices.ContainsFunc(src.Fields[f], func(g string) bool { return produced[g] })
		}
		for _, f := range src.Produces {
			if !avail(f) {
				t.Errorf("%s: %q is advertised to Sigma rules but no event carries it", form.name, f)
			}
		}
		for f := range produced {
			if !slices.Contains(src.Produces, f) && !slices.Contains([]string{"user.name", "source.ip"}, f) {
				t.Errorf("%s: the reader sets %q but the windows-security source does not advertise it", form.name, f)
			}
		}
		if testing.Verbose() {
			t.Log(form.name, fmt.Sprint(len(produced)), "fields produced")
		}
	}
}
