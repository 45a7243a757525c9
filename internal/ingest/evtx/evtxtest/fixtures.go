package evtxtest

import (
	"fmt"
	"time"
)

// KerberosSpray is one address spraying a domain over Kerberos: 4768 for
// accounts that do not exist (0x6), 4771 pre-authentication failures
// (0x18) for real ones, then a 4768 success for the account that fell,
// its 4769 service ticket, and a 4740 lockout of another account.
func KerberosSpray(base time.Time) []Event {
	var evs []Event
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	dc := "DC01.corp.example"
	src := "::ffff:203.0.113.50"
	for i, u := range []string{"admin", "backup", "scanner", "test", "oracle"} {
		evs = append(evs, Event{ID: 4768, Time: at(i), Computer: dc, Data: [][2]string{
			{"TargetUserName", u}, {"TargetDomainName", "CORP"}, {"TargetSid", "S-1-0-0"}, {"ServiceName", "krbtgt/CORP"},
			{"ServiceSid", "S-1-0-0"}, {"TicketOptions", "0x40810010"}, {"Status", "0x6"}, {"TicketEncryptionType", "0xffffffff"},
			{"PreAuthType", "-"}, {"IpAddress", src}, {"IpPort", fmt.Sprint(50000 + i)}}})
	}
	for i, u := range []string{"alice", "bob", "carol", "dave"} {
		evs = append(evs, Event{ID: 4771, Time: at(10 + i), Computer: dc, Data: [][2]string{
			{"TargetUserName", u}, {"TargetSid", "S-1-5-21-1-2-3-" + fmt.Sprint(1100+i)}, {"ServiceName", "krbtgt/CORP"},
			{"TicketOptions", "0x40810010"}, {"Status", "0x18"}, {"PreAuthType", "2"}, {"IpAddress", src}, {"IpPort", fmt.Sprint(50100 + i)}}})
	}
	evs = append(evs,
		Event{ID: 4768, Time: at(20), Computer: dc, Data: [][2]string{
			{"TargetUserName", "erin"}, {"TargetDomainName", "CORP"}, {"TargetSid", "S-1-5-21-1-2-3-1104"}, {"ServiceName", "krbtgt"},
			{"ServiceSid", "S-1-5-21-1-2-3-502"}, {"TicketOptions", "0x40810010"}, {"Status", "0x0"}, {"TicketEncryptionType", "0x12"},
			{"PreAuthType", "2"}, {"IpAddress", src}, {"IpPort", "50200"}}},
		Event{ID: 4769, Time: at(21), Computer: dc, Data: [][2]string{
			{"TargetUserName", "erin@CORP.EXAMPLE"}, {"TargetDomainName", "CORP.EXAMPLE"}, {"ServiceName", "FILE01$"},
			{"ServiceSid", "S-1-5-21-1-2-3-2001"}, {"TicketOptions", "0x40810000"}, {"TicketEncryptionType", "0x17"},
			{"IpAddress", src}, {"IpPort", "50201"}, {"Status", "0x0"}, {"LogonGuid", "{00000000-0000-0000-0000-000000000000}"}, {"TransmittedServices", "-"}}},
		Event{ID: 4740, Time: at(30), Computer: dc, Data: [][2]string{
			{"TargetUserName", "alice"}, {"TargetDomainName", "WS017"}, {"TargetSid", "S-1-5-21-1-2-3-1100"},
			{"SubjectUserSid", "S-1-5-18"}, {"SubjectUserName", "DC01$"}, {"SubjectDomainName", "CORP"}, {"SubjectLogonId", "0x3e7"}}},
		Event{ID: 4767, Time: at(600), Computer: dc, Data: [][2]string{
			{"TargetUserName", "alice"}, {"TargetDomainName", "CORP"}, {"TargetSid", "S-1-5-21-1-2-3-1100"},
			{"SubjectUserSid", "S-1-5-21-1-2-3-500"}, {"SubjectUserName", "helpdesk"}, {"SubjectDomainName", "CORP"}, {"SubjectLogonId", "0x1234"}}},
	)
	return evs
}

// NTLMSpray is a small domain sprayed over NTLM from one workstation in
// one second with no source address in the 4625s: 4776 on the DC and 4625
// on the file server, then a logon, its 4672, and the logoff.
func NTLMSpray(base time.Time) []Event {
	var evs []Event
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	users := []string{"amy", "ben", "cat", "dan", "eve", "fay", "gus"}
	for i, u := range users {
		status := "0xc000006a"
		if u == "gus" {
			status = "0xc0000064"
		}
		evs = append(evs, Event{ID: 4776, Time: at(i * 100), Computer: "DC01.corp.example", Data: [][2]string{
			{"PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"}, {"TargetUserName", u}, {"Workstation", "KIOSK-7"}, {"Status", status}}})
		sub := status
		evs = append(evs, Event{ID: 4625, Time: at(i*100 + 10), Computer: "FILE01.corp.example", Data: [][2]string{
			{"SubjectUserSid", "S-1-0-0"}, {"SubjectUserName", "-"}, {"SubjectDomainName", "-"}, {"SubjectLogonId", "0x0"},
			{"TargetUserSid", "S-1-0-0"}, {"TargetUserName", u}, {"TargetDomainName", "CORP"}, {"Status", "0xc000006d"},
			{"FailureReason", "%%2313"}, {"SubStatus", sub}, {"LogonType", "3"}, {"LogonProcessName", "NtLmSsp "},
			{"AuthenticationPackageName", "NTLM"}, {"WorkstationName", "KIOSK-7"}, {"TransmittedServices", "-"},
			{"LmPackageName", "-"}, {"KeyLength", "0"}, {"ProcessId", "0x0"}, {"ProcessName", "-"}, {"IpAddress", "-"}, {"IpPort", "-"}}})
	}
	evs = append(evs,
		Event{ID: 4776, Time: at(2000), Computer: "DC01.corp.example", Data: [][2]string{
			{"PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"}, {"TargetUserName", "fay"}, {"Workstation", "KIOSK-7"}, {"Status", "0x0"}}},
		Event{ID: 4624, Time: at(2010), Computer: "FILE01.corp.example", Data: [][2]string{
			{"SubjectUserSid", "S-1-0-0"}, {"SubjectUserName", "-"}, {"SubjectDomainName", "-"}, {"SubjectLogonId", "0x0"},
			{"TargetUserSid", "S-1-5-21-1-2-3-1105"}, {"TargetUserName", "fay"}, {"TargetDomainName", "CORP"}, {"TargetLogonId", "0x5a5a5"},
			{"LogonType", "3"}, {"LogonProcessName", "NtLmSsp "}, {"AuthenticationPackageName", "NTLM"}, {"WorkstationName", "KIOSK-7"},
			{"IpAddress", "-"}, {"IpPort", "-"}}},
		Event{ID: 4672, Time: at(2010), Computer: "FILE01.corp.example", Data: [][2]string{
			{"SubjectUserSid", "S-1-5-21-1-2-3-1105"}, {"SubjectUserName", "fay"}, {"SubjectDomainName", "CORP"}, {"SubjectLogonId", "0x5a5a5"},
			{"PrivilegeList", "SeBackupPrivilege"}}},
		Event{ID: 4634, Time: at(5000), Computer: "FILE01.corp.example", Data: [][2]string{
			{"TargetUserSid", "S-1-5-21-1-2-3-1105"}, {"TargetUserName", "fay"}, {"TargetDomainName", "CORP"}, {"TargetLogonId", "0x5a5a5"}, {"LogonType", "3"}}},
		// a Sysmon event in the same file: another channel, ignored
		Event{ID: 1, Time: at(6000), Computer: "FILE01.corp.example", Channel: "Microsoft-Windows-Sysmon/Operational",
			Provider: "Microsoft-Windows-Sysmon", Data: [][2]string{{"Image", `C:\Windows\System32\cmd.exe`}}},
		// an event id firebreak does not know
		Event{ID: 5145, Time: at(7000), Computer: "FILE01.corp.example", Data: [][2]string{{"ShareName", `\\*\IPC$`}}},
	)
	return evs
}

// NATOfficeDay is an office of 60 people behind one NAT address over a
// working day (08:00-18:00 from base's date): each signs in once, and one
// in three first mistypes their password once or twice, minutes apart; no
// attack. It must raise nothing above low.
func NATOfficeDay(base time.Time) []Event {
	day := time.Date(base.Year(), base.Month(), base.Day(), 8, 0, 0, 0, time.UTC)
	var evs []Event
	nat := "198.51.100.10"
	for u := range 60 {
		user := fmt.Sprintf("staff%02d", u)
		at := day.Add(time.Duration(u*9) * time.Minute) // spread over nine hours
		for m := range (u % 3) / 2 * (1 + u%2) {        // a third of them mistype once or twice
			evs = append(evs, Event{ID: 4625, Time: at.Add(time.Duration(m) * 40 * time.Second), Computer: "FS01.office.example", Data: [][2]string{
				{"TargetUserName", user}, {"TargetDomainName", "OFFICE"}, {"Status", "0xc000006d"}, {"SubStatus", "0xc000006a"},
				{"LogonType", "3"}, {"AuthenticationPackageName", "NTLM"}, {"WorkstationName", fmt.Sprintf("PC%02d", u)}, {"IpAddress", nat}, {"IpPort", "0"}}})
		}
		evs = append(evs, Event{ID: 4624, Time: at.Add(2 * time.Minute), Computer: "FS01.office.example", Data: [][2]string{
			{"TargetUserName", user}, {"TargetDomainName", "OFFICE"}, {"LogonType", "3"}, {"AuthenticationPackageName", "NTLM"},
			{"WorkstationName", fmt.Sprintf("PC%02d", u)}, {"IpAddress", nat}, {"IpPort", "0"}}})
	}
	return evs
}
