package estate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the YAML/JSON decoder and validator:
// it must never panic, must return either an estate or a *ValidationError,
// and every object of a valid estate must carry its position.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"tenants:\n  - id: t1\n",
		"tenants:\n  - id: t1\n    colour: blue\n",
		"identities:\n  - id: u\n    kind: robot\n    home: msp\n    created: 2026-02-30\n",
		"tenants:\n  - id: t1\ngrants:\n  - id: g\n    subject: ghost\n    target: t2\n    privilege: admin\n",
		"tenants:\n  - id: [unclosed\n",
		"{\"tenants\": [{\"id\": \"t1\", \"bogus\": 1}]}",
		"a: &x {b: *x}\n",
		"provider: {id: msp}\n---\nprovider: {id: msp}\n",
		"tenants: !!binary aGVsbG8=\n",
		"settings: {max_tenant_share: .nan, stale_days: 1e99}\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	for _, c := range loadCases {
		for name, body := range c.files {
			if filepath.Ext(name) != ".csv" {
				f.Add([]byte(body), filepath.Ext(name) == ".json")
			}
		}
	}
	files, _ := filepath.Glob("../../examples/harbourview/*.yaml")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b, false)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, asJSON bool) {
		name := "fuzz.yaml"
		if asJSON {
			name = "fuzz.json"
		}
		e, err := parse(data, name, false)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("error is %T %v, want a non-empty *ValidationError", err, err)
			}
			for _, fe := range ve.Errors {
				if fe.Pos.File != name && fe.Pos.File != "" {
					t.Fatalf("problem in unexpected file: %v", fe)
				}
			}
			return
		}
		for _, x := range e.Tenants {
			if x.Pos.Line == 0 {
				t.Fatalf("tenant %q without position", x.ID)
			}
		}
		for _, x := range e.Grants {
			if x.Pos.Line == 0 {
				t.Fatalf("grant %q without position", x.ID)
			}
		}
	})
}

// FuzzImportCSV feeds arbitrary CSV to each import kind.
func FuzzImportCSV(f *testing.F) {
	seeds := []string{
		"subject,target,privilege,expires\nu1,t1,admin,2026-01-01\n",
		"subject,target,privilege\nu1,t1,root\n",
		"id,hostname\na1,h1\n",
		"Asset ID,Organization,Computer Name,Software,Internet Ports\nx,t1,h,Microsoft:Windows Server:2019,3389;443\n",
		"userPrincipalName,displayName,accountEnabled,lastSignInDateTime,mfa_methods\na@b.c,A,True,2026-11-01T10:00:00Z,fido2|sms\n",
		"\xef\xbb\xbfid,tenant\n\"unterminated,t1\n",
		"id,id\n1,2\n",
		"",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i))
	}
	for _, c := range loadCases {
		for name, body := range c.files {
			if filepath.Ext(name) == ".csv" {
				f.Add([]byte(body), uint8(len(name)))
			}
		}
	}
	if b, err := os.ReadFile("../../examples/harbourview/assets.csv"); err == nil {
		f.Add(b, uint8(1))
	}
	kinds := []string{"identities", "assets", "grants"}
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		kind := kinds[int(k)%len(kinds)]
		e, err := ImportCSV(bytes.NewReader(data), "fuzz.csv", kind, "t1", nil)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("error is %T %v, want a non-empty *ValidationError", err, err)
			}
			return
		}
		n := len(e.Identities) + len(e.Assets) + len(e.Grants)
		for _, g := range e.Grants {
			if g.Pos.Line < 2 {
				t.Fatalf("grant row at line %d", g.Pos.Line)
			}
		}
		if n > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("%d rows from %d lines", n, bytes.Count(data, []byte("\n"))+1)
		}
	})
}
