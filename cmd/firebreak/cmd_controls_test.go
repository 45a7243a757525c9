package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestControlsCustomPolicies lists the example custom policy's control next
// to the catalog, with the metadata the policy declares, and applies the
// filters to it.
func TestControlsCustomPolicies(t *testing.T) {
	const dir = "../../examples/policies"
	type row struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Heading     int    `json:"heading"`
		Party       string `json:"party"`
		Severity    string `json:"severity"`
		Kind        string `json:"kind"`
		Remediation string `json:"remediation"`
		Rego        string `json:"rego"`
		Custom      bool   `json:"custom"`
		Policy      string `json:"policy"`
	}
	acme := row{
		ID: "ACME-001", Title: "Critical tenants are reached only with phishing-resistant MFA", Heading: 3, Severity: "high",
		Kind: "automated", Rego: "firebreak.checks.acme", Custom: true, Policy: dir + "/critical_fido2.rego:31",
		Remediation: "Register FIDO2 keys or passkeys for every member of the groups and identities that reach critical tenants, or remove their access.",
	}
	tests := []struct {
		name string
		opts controlsOptions
		want []row // the custom rows listed
	}{
		{"listed", controlsOptions{Policy: []string{dir}}, []row{acme}},
		{"no-policy", controlsOptions{}, nil},
		{"heading-match", controlsOptions{Policy: []string{dir}, Heading: 3}, []row{acme}},
		{"heading-other", controlsOptions{Policy: []string{dir}, Heading: 4}, nil},
		{"kind-automated", controlsOptions{Policy: []string{dir}, Kind: "automated"}, []row{acme}},
		{"kind-attested", controlsOptions{Policy: []string{dir}, Kind: "attested"}, nil},
		{"party-has-none", controlsOptions{Policy: []string{dir}, Party: "msp"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, out := assessGlobals()
			tt.opts.Format = "json"
			if err := runControls(context.Background(), tt.opts, g); err != nil {
				t.Fatal(err)
			}
			var rows []row
			if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var got []row
			builtin := 0
			for _, r := range rows {
				if r.Custom {
					got = append(got, r)
				} else {
					builtin++
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("custom controls (-want +got):\n%s", diff)
			}
			if tt.opts.Kind != "attested" && builtin == 0 {
				t.Error("catalog controls missing")
			}
		})
	}

	for _, f := range []string{"table", "markdown"} {
		g, out := assessGlobals()
		if err := runControls(context.Background(), controlsOptions{Format: f, Policy: []string{dir}}, g); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"ACME-001", "custom", "Critical tenants are reached only with phishing-resistant MFA"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s output lacks %q", f, want)
			}
		}
	}

	g, _ := assessGlobals()
	if err := runControls(context.Background(), controlsOptions{Format: "table", Policy: []string{t.TempDir()}}, g); err == nil || !strings.Contains(err.Error(), "no .rego files") {
		t.Errorf("empty policy dir: err = %v, want no .rego files", err)
	}
}
