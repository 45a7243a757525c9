package storetest

import (
	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Estate is a small two-tenant estate.
func Estate() *estate.Estate {
	return &estate.Estate{
		Provider: estate.Provider{ID: "msp", Name: "Test MSP", Pos: estate.Pos{File: "msp.yaml", Line: 1}},
		Tenants: []estate.Tenant{
			{ID: Alpha, Name: "Alpha Dental", Criticality: estate.CritHigh, Sector: "health", Endpoints: 12, Pos: estate.Pos{File: "tenants.yaml", Line: 3}},
			{ID: Bravo, Name: "Bravo Law", Criticality: estate.CritLow, Endpoints: 40, Pos: estate.Pos{File: "tenants.yaml", Line: 9}},
		},
		Identities: []estate.Identity{
			{ID: "tech-01", Kind: estate.KindHuman, Home: "msp", UPN: "tech.one@msp.example"},
			{ID: "alpha-admin", Kind: estate.KindHuman, Home: Alpha},
			{ID: "bravo-admin", Kind: estate.KindHuman, Home: Bravo},
		},
		Tools: []estate.Tool{
			{ID: "rmm", Kind: estate.ToolRMM, Name: "RMM"},
			{ID: "gdap-alpha", Kind: estate.ToolGDAP, GDAP: &estate.GDAP{Customer: Alpha}},
			{ID: "gdap-bravo", Kind: estate.ToolGDAP, GDAP: &estate.GDAP{Customer: Bravo}},
		},
		Grants: []estate.Grant{
			{ID: "g-tech-rmm", Subject: "tech-01", Target: "rmm", Privilege: estate.PrivAdmin},
			{ID: "g-rmm-alpha", Subject: "rmm", Target: Alpha, Privilege: estate.PrivFull},
			{ID: "g-rmm-bravo", Subject: "rmm", Target: Bravo, Privilege: estate.PrivFull},
		},
		Assets: []estate.Asset{
			{ID: "alpha-dc", Tenant: Alpha, Hostname: "dc01.alpha.example"},
			{ID: "bravo-dc", Tenant: Bravo, Hostname: "dc01.bravo.example"},
		},
		Contracts: []estate.Contract{{ID: "c-bravo", Tenant: Bravo, Clauses: []string{estate.ClauseLogging}}},
	}
}

// Report is an assessment report over Estate; failAlpha flips alpha's MFA control.
func Report(at string, failAlpha bool) *assess.Report {
	alphaMFA := assess.StatusPass
	if failAlpha {
		alphaMFA = assess.StatusFail
	}
	res := []assess.Result{
		{Control: "mfa-msp", Title: "MFA on MSP accounts", Heading: 3, Severity: "critical", Subject: "msp", Status: assess.StatusFail, Message: "tech-01 has no MFA"},
		{Control: "mfa-tenant", Title: "MFA in tenant", Heading: 3, Severity: "high", Subject: Alpha, Status: alphaMFA, Message: "alpha mfa"},
		{Control: "mfa-tenant", Title: "MFA in tenant", Heading: 3, Severity: "high", Subject: Bravo, Status: assess.StatusFail, Message: "bravo-admin has no MFA",
			Evidence: []assess.Evidence{{Kind: "identity", ID: "bravo-admin"}}},
		{Control: "logging", Title: "Log retention", Heading: 2, Severity: "medium", Subject: Alpha, Status: assess.StatusNotEvaluable, Missing: []string{"tools.logging"}},
		{Control: "logging", Title: "Log retention", Heading: 2, Severity: "medium", Subject: Bravo, Status: assess.StatusPass},
	}
	alphaScore := 100.0
	if failAlpha {
		alphaScore = 40
	}
	return &assess.Report{
		Version: "1", At: mustTime(at), Provider: "msp", KEV: "2026.02.27", Sources: []string{"estate/"}, Results: res,
		Scores: []assess.Score{
			{Subject: "msp", Name: "Test MSP", Score: 50, Fail: 1},
			{Subject: Bravo, Name: "Bravo Law", Score: 60, Pass: 1, Fail: 1},
			{Subject: Alpha, Name: "Alpha Dental", Score: alphaScore, Pass: 1, Other: 1},
		},
	}
}
