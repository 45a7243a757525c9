// Command evtxgen writes a synthetic Windows Security .evtx file for the
// EVTX benchmarks (bench/evtx.sh): a domain controller's and file
// servers' day — logons, logoffs, special logons, process creation,
// Kerberos and NTLM traffic with a few failures — plus one Kerberos spray,
// in records shaped like Windows' own (the same EventData fields, ~1 KB
// each). Not part of the product.
//
//	go run ./bench/evtxgen -records 1000000 -o /tmp/security.evtx
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"time"

	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

func main() {
	n := flag.Int("records", 100000, "records to write")
	out := flag.String("o", "security.evtx", "output file")
	seed := flag.Uint64("seed", 7, "random seed")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := evtxtest.NewWriter(bw)
	rng := rand.New(rand.NewPCG(*seed, 1))
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	step := 86400 * time.Second / time.Duration(max(*n, 1))
	for i := range *n {
		at := t0.Add(time.Duration(i) * step)
		if err := w.Add(record(rng, at, i)); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		log.Fatal(err)
	}
	if _, err := f.WriteAt(w.Header(), 0); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func record(rng *rand.Rand, at time.Time, i int) evtxtest.Event {
	user := fmt.Sprintf("user%03d", rng.IntN(400))
	host := fmt.Sprintf("WS%03d", rng.IntN(300))
	ip := fmt.Sprintf("10.%d.%d.%d", rng.IntN(4), rng.IntN(250), 1+rng.IntN(250))
	sid := fmt.Sprintf("S-1-5-21-3623811015-3361044348-30300820-%d", 1100+rng.IntN(400))
	logonID := fmt.Sprintf("0x%x", 0x100000+rng.IntN(1<<24))
	comp := []string{"DC01.corp.example", "FS01.corp.example", "FS02.corp.example"}[rng.IntN(3)]
	e := evtxtest.Event{Time: at, Computer: comp}
	// one spray in the day: 300 accounts from one address in five minutes
	if i%3000 == 1500 {
		e.ID, e.Computer = 4771, "DC01.corp.example"
		e.Data = [][2]string{{"TargetUserName", user}, {"TargetSid", sid}, {"ServiceName", "krbtgt/CORP"}, {"TicketOptions", "0x40810010"},
			{"Status", "0x18"}, {"PreAuthType", "2"}, {"IpAddress", "::ffff:198.51.100.66"}, {"IpPort", fmt.Sprint(49152 + rng.IntN(16000))},
			{"CertIssuerName", ""}, {"CertSerialNumber", ""}, {"CertThumbprint", ""}}
		return e
	}
	subject := [][2]string{{"SubjectUserSid", "S-1-5-18"}, {"SubjectUserName", "DC01$"}, {"SubjectDomainName", "CORP"}, {"SubjectLogonId", "0x3e7"}}
	switch r := rng.IntN(100); {
	case r < 35:
		e.ID = 4624
		e.Data = append(subject, [][2]string{{"TargetUserSid", sid}, {"TargetUserName", user}, {"TargetDomainName", "CORP"},
			{"TargetLogonId", logonID}, {"LogonType", "3"}, {"LogonProcessName", "Kerberos"}, {"AuthenticationPackageName", "Kerberos"},
			{"WorkstationName", "-"}, {"LogonGuid", "{8B5B4F4E-4C3A-2B1A-0F0E-0D0C0B0A0908}"}, {"TransmittedServices", "-"},
			{"LmPackageName", "-"}, {"KeyLength", "0"}, {"ProcessId", "0x0"}, {"ProcessName", "-"}, {"IpAddress", ip},
			{"IpPort", fmt.Sprint(49152 + rng.IntN(16000))}, {"ImpersonationLevel", "%%1833"}, {"RestrictedAdminMode", "-"},
			{"TargetOutboundUserName", "-"}, {"TargetOutboundDomainName", "-"}, {"VirtualAccount", "%%1843"},
			{"TargetLinkedLogonId", "0x0"}, {"ElevatedToken", "%%1842"}}...)
	case r < 55:
		e.ID = 4634
		e.Data = [][2]string{{"TargetUserSid", sid}, {"TargetUserName", user}, {"TargetDomainName", "CORP"}, {"TargetLogonId", logonID}, {"LogonType", "3"}}
	case r < 65:
		e.ID = 4672
		e.Data = [][2]string{{"SubjectUserSid", sid}, {"SubjectUserName", user}, {"SubjectDomainName", "CORP"}, {"SubjectLogonId", logonID},
			{"PrivilegeList", "SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege\r\n\t\t\tSeRestorePrivilege"}}
	case r < 75:
		e.ID = 4688
		e.Data = append(subject, [][2]string{{"NewProcessId", logonID}, {"NewProcessName", `C:\Windows\System32\svchost.exe`},
			{"TokenElevationType", "%%1936"}, {"ProcessId", "0x2a4"}, {"CommandLine", `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`},
			{"TargetUserSid", "S-1-0-0"}, {"TargetUserName", "-"}, {"TargetDomainName", "-"}, {"TargetLogonId", "0x0"},
			{"ParentProcessName", `C:\Windows\System32\services.exe`}, {"MandatoryLabel", "S-1-16-16384"}}...)
	case r < 85:
		e.ID, e.Computer = 4769, "DC01.corp.example"
		e.Data = [][2]string{{"TargetUserName", user + "@CORP.EXAMPLE"}, {"TargetDomainName", "CORP.EXAMPLE"}, {"ServiceName", "FS01$"},
			{"ServiceSid", "S-1-5-21-3623811015-3361044348-30300820-2001"}, {"TicketOptions", "0x40810000"}, {"TicketEncryptionType", "0x12"},
			{"IpAddress", "::ffff:" + ip}, {"IpPort", fmt.Sprint(49152 + rng.IntN(16000))}, {"Status", "0x0"},
			{"LogonGuid", "{8B5B4F4E-4C3A-2B1A-0F0E-0D0C0B0A0908}"}, {"TransmittedServices", "-"}}
	case r < 90:
		e.ID, e.Computer = 4768, "DC01.corp.example"
		status := "0x0"
		if rng.IntN(50) == 0 {
			status = "0x6"
		}
		e.Data = [][2]string{{"TargetUserName", user}, {"TargetDomainName", "CORP"}, {"TargetSid", sid}, {"ServiceName", "krbtgt"},
			{"ServiceSid", "S-1-5-21-3623811015-3361044348-30300820-502"}, {"TicketOptions", "0x40810010"}, {"Status", status},
			{"TicketEncryptionType", "0x12"}, {"PreAuthType", "2"}, {"IpAddress", "::ffff:" + ip}, {"IpPort", fmt.Sprint(49152 + rng.IntN(16000))},
			{"CertIssuerName", ""}, {"CertSerialNumber", ""}, {"CertThumbprint", ""}}
	case r < 95:
		e.ID, e.Computer = 4776, "DC01.corp.example"
		status := "0x0"
		if rng.IntN(20) == 0 {
			status = "0xc000006a"
		}
		e.Data = [][2]string{{"PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"}, {"TargetUserName", user}, {"Workstation", host}, {"Status", status}}
	case r < 98:
		e.ID = 4625
		e.Data = append(subject, [][2]string{{"TargetUserSid", "S-1-0-0"}, {"TargetUserName", user}, {"TargetDomainName", "CORP"},
			{"Status", "0xc000006d"}, {"FailureReason", "%%2313"}, {"SubStatus", "0xc000006a"}, {"LogonType", "3"},
			{"LogonProcessName", "NtLmSsp "}, {"AuthenticationPackageName", "NTLM"}, {"WorkstationName", host}, {"TransmittedServices", "-"},
			{"LmPackageName", "-"}, {"KeyLength", "0"}, {"ProcessId", "0x0"}, {"ProcessName", "-"}, {"IpAddress", ip},
			{"IpPort", fmt.Sprint(49152 + rng.IntN(16000))}}...)
	default:
		e.ID = 5145
		e.Data = append(subject, [][2]string{{"ObjectType", "File"}, {"IpAddress", ip}, {"IpPort", fmt.Sprint(49152 + rng.IntN(16000))},
			{"ShareName", `\\*\SYSVOL`}, {"ShareLocalPath", `\??\C:\Windows\SYSVOL\sysvol`}, {"RelativeTargetName", `corp.example\Policies`},
			{"AccessMask", "0x120089"}, {"AccessList", "%%1538\r\n\t\t\t\t%%1541\r\n\t\t\t\t%%4416"}, {"AccessReason", "-"}}...)
	}
	return e
}
