package report

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
)

// OSCAL assessment results (NIST, release 1.2.3). Only the assemblies firebreak fills
// are modelled. Every identifier is a stable UUID derived from the report
// content, so rendering the same report twice gives the same document.

const (
	oscalVersion = "1.2.3"
	oscalNS      = "https://github.com/firebreak-msp/firebreak/ns/oscal"
)

type oscalDoc struct {
	AR oscalAR `json:"assessment-results"`
}

type oscalAR struct {
	UUID       string           `json:"uuid"`
	Metadata   oscalMetadata    `json:"metadata"`
	ImportAP   oscalImportAP    `json:"import-ap"`
	Results    []oscalResult    `json:"results"`
	BackMatter *oscalBackMatter `json:"back-matter,omitempty"`
}

type oscalMetadata struct {
	Title        string       `json:"title"`
	LastModified string       `json:"last-modified"`
	Version      string       `json:"version"`
	OSCALVersion string       `json:"oscal-version"`
	Props        []oscalProp  `json:"props,omitempty"`
	Roles        []oscalRole  `json:"roles,omitempty"`
	Parties      []oscalParty `json:"parties,omitempty"`
	Responsible  []oscalRP    `json:"responsible-parties,omitempty"`
}

type oscalRole struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type oscalParty struct {
	UUID string `json:"uuid"`
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
}

type oscalRP struct {
	RoleID     string   `json:"role-id"`
	PartyUUIDs []string `json:"party-uuids"`
}

type oscalProp struct {
	Name  string `json:"name"`
	NS    string `json:"ns,omitempty"`
	Value string `json:"value"`
	Class string `json:"class,omitempty"`
}

type oscalImportAP struct {
	Href    string `json:"href"`
	Remarks string `json:"remarks,omitempty"`
}

type oscalResult struct {
	UUID             string        `json:"uuid"`
	Title            string        `json:"title"`
	Description      string        `json:"description"`
	Start            string        `json:"start"`
	End              string        `json:"end,omitempty"`
	Props            []oscalProp   `json:"props,omitempty"`
	ReviewedControls oscalReviewed `json:"reviewed-controls"`
	// Observations and Findings are streamed by writeSpliced: the skeleton
	// holds a null placeholder (json.RawMessage) when there are results.
	Observations any `json:"observations,omitempty"`
	Findings     any `json:"findings,omitempty"`
}

type oscalReviewed struct {
	ControlSelections []oscalSelection `json:"control-selections"`
}

type oscalSelection struct {
	Description     string            `json:"description,omitempty"`
	IncludeAll      *struct{}         `json:"include-all,omitempty"`
	IncludeControls []oscalControlRef `json:"include-controls,omitempty"`
}

type oscalControlRef struct {
	ControlID string `json:"control-id"`
}

type oscalObservation struct {
	UUID             string          `json:"uuid"`
	Title            string          `json:"title,omitempty"`
	Description      string          `json:"description"`
	Props            []oscalProp     `json:"props,omitempty"`
	Methods          []string        `json:"methods"`
	Types            []string        `json:"types,omitempty"`
	RelevantEvidence []oscalEvidence `json:"relevant-evidence,omitempty"`
	Collected        string          `json:"collected"`
	Remarks          string          `json:"remarks,omitempty"`
}

type oscalEvidence struct {
	Href        string      `json:"href,omitempty"`
	Description string      `json:"description"`
	Props       []oscalProp `json:"props,omitempty"`
}

type oscalFinding struct {
	UUID                string           `json:"uuid"`
	Title               string           `json:"title"`
	Description         string           `json:"description"`
	Props               []oscalProp      `json:"props,omitempty"`
	Target              oscalTarget      `json:"target"`
	RelatedObservations []oscalRelatedOb `json:"related-observations,omitempty"`
	Remarks             string           `json:"remarks,omitempty"`
}

type oscalTarget struct {
	Type     string      `json:"type"`
	TargetID string      `json:"target-id"`
	Title    string      `json:"title,omitempty"`
	Status   oscalStatus `json:"status"`
}

type oscalStatus struct {
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Remarks string `json:"remarks,omitempty"`
}

type oscalRelatedOb struct {
	ObservationUUID string `json:"observation-uuid"`
}

type oscalBackMatter struct {
	Resources []oscalResource `json:"resources"`
}

type oscalResource struct {
	UUID        string       `json:"uuid"`
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	RLinks      []oscalRLink `json:"rlinks,omitempty"`
}

type oscalRLink struct {
	Href string `json:"href"`
}

// oneLine collapses whitespace so values fit OSCAL's single-line string
// type (no leading, trailing or embedded line breaks); empty becomes "-".
func oneLine(s string) string {
	if isOneLine(s) {
		return s
	}
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}

// isOneLine reports whether s is non-empty, without leading, trailing,
// doubled or non-space whitespace (the common case, kept without copying).
func isOneLine(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c >= 0x80:
			return false
		case c == ' ' && s[i+1] == ' ':
			return false
		}
	}
	return true
}

func prop(name, value string) oscalProp {
	return oscalProp{Name: name, NS: oscalNS, Value: oneLine(value)}
}

func oscalTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// writeOSCAL writes an OSCAL assessment-results document: one result
// (the run) holding one observation per (control, subject, object) result
// with its evidence, and one finding per observation targeting the control,
// satisfied or not.
func writeOSCAL(w io.Writer, r *assess.Report, opts Options) error {
	at := oscalTime(r.At)
	runID := stableUUID("run", r.Provider, at)
	catalogRes := stableUUID("catalog", r.Provider, at)
	party := stableUUID("party", r.Provider)
	names := map[string]string{}
	for _, s := range r.Scores {
		names[s.Subject] = s.Name
	}

	rows := selectResults(r, true)
	var controls []oscalControlRef
	seen := map[string]bool{}
	for _, ri := range rulesFor(r, opts.Catalog) {
		if !seen[ri.id] {
			seen[ri.id] = true
			controls = append(controls, oscalControlRef{ControlID: ri.id})
		}
	}

	res := oscalResult{
		UUID:        runID,
		Title:       "AA22-131A assessment of " + oneLine(r.Provider),
		Description: "Automated and attested verification of the CISA/NSA/FBI/NCSC-UK/ACSC/CCCS/NCSC-NZ joint advisory AA22-131A controls for the MSP and each customer tenant, by firebreak.",
		Start:       at,
		End:         at,
		ReviewedControls: oscalReviewed{ControlSelections: []oscalSelection{{
			Description:     "Every control of the firebreak AA22-131A catalog evaluated in this run.",
			IncludeControls: controls,
		}}},
	}
	for _, s := range orderScores(r.Scores) {
		res.Props = append(res.Props, oscalProp{Name: "score", NS: oscalNS, Class: oneLine(s.Subject), Value: strconv.FormatFloat(s.Score, 'f', 1, 64)})
	}
	if len(res.ReviewedControls.ControlSelections[0].IncludeControls) == 0 {
		res.ReviewedControls.ControlSelections[0].IncludeControls = nil
		res.ReviewedControls.ControlSelections[0].IncludeAll = &struct{}{}
	}
	if len(rows) > 0 {
		res.Observations, res.Findings = json.RawMessage("null"), json.RawMessage("null")
	}
	doc := oscalDoc{AR: oscalAR{
		UUID: stableUUID("assessment-results", r.Provider, at),
		Metadata: oscalMetadata{
			Title:        "firebreak AA22-131A assessment results: " + oneLine(r.Provider),
			LastModified: at,
			Version:      "report-" + r.Version + "/" + opts.toolVersion(),
			OSCALVersion: oscalVersion,
			Props:        []oscalProp{prop("provider", r.Provider), prop("tool", "firebreak "+opts.toolVersion())},
			Roles:        []oscalRole{{ID: "assessor", Title: "Assessor"}},
			Parties:      []oscalParty{{UUID: party, Type: "organization", Name: oneLine(r.Provider)}},
			Responsible:  []oscalRP{{RoleID: "assessor", PartyUUIDs: []string{party}}},
		},
		ImportAP: oscalImportAP{Href: "#" + catalogRes,
			Remarks: "There is no separate assessment plan: the plan is the firebreak AA22-131A control catalog applied to every tenant (see back-matter)."},
		Results: []oscalResult{res},
		BackMatter: &oscalBackMatter{Resources: []oscalResource{{
			UUID:        catalogRes,
			Title:       "firebreak AA22-131A control catalog",
			Description: "Joint advisory AA22-131A, Protecting Against Cyber Threats to Managed Service Providers and their Customers, as firebreak controls.",
			RLinks:      []oscalRLink{{Href: "https://www.cisa.gov/news-events/cybersecurity-advisories/aa22-131a"}},
		}}},
	}}
	ids := make([]string, len(rows))
	obsID := func(i int) string {
		if ids[i] == "" {
			x := rows[i]
			ids[i] = stableUUID("observation", runID, x.Control, x.Subject, x.Object, strconv.Itoa(i))
		}
		return ids[i]
	}
	return writeSpliced(w, &doc,
		splice{key: "observations", n: len(rows), item: func(i int) any { return oscalObservationFor(rows[i], obsID(i), at, names) }},
		splice{key: "findings", n: len(rows), item: func(i int) any { return oscalFindingFor(rows[i], obsID(i)) }})
}

func oscalObservationFor(x *assess.Result, obsID, at string, names map[string]string) *oscalObservation {
	method := "TEST"
	if x.Status == assess.StatusAttested {
		method = "INTERVIEW"
	}
	obs := oscalObservation{
		UUID:        obsID,
		Title:       oneLine(x.Control + " " + x.Title),
		Description: oneLine(sarifMessage(x)),
		Methods:     []string{method},
		Types:       []string{"control-objective"},
		Collected:   at,
		Props: []oscalProp{
			prop("subject", x.Subject),
			prop("status", string(x.Status)),
			prop("severity", strings.ToLower(x.Severity)),
		},
	}
	if n := names[x.Subject]; n != "" {
		obs.Props = append(obs.Props, prop("subject-name", n))
	}
	if x.Object != "" {
		obs.Props = append(obs.Props, prop("object", x.Object))
	}
	if x.Status == assess.StatusFail {
		obs.Types = []string{"finding"}
	}
	for _, ev := range x.Evidence {
		e := oscalEvidence{Description: oneLine(evidenceText(ev))}
		if ev.Pos.File != "" {
			href := fileURI(ev.Pos.File)
			if ev.Pos.Line > 0 {
				href += "#L" + strconv.Itoa(ev.Pos.Line)
			}
			e.Href = href
		}
		obs.RelevantEvidence = append(obs.RelevantEvidence, e)
	}
	if len(x.Missing) > 0 {
		obs.Remarks = "Missing evidence: " + strings.Join(x.Missing, "; ")
	}
	return &obs
}

func oscalFindingFor(x *assess.Result, obsID string) *oscalFinding {
	state, reason := "not-satisfied", "fail"
	switch x.Status {
	case assess.StatusPass:
		state, reason = "satisfied", "pass"
	case assess.StatusAttested:
		state, reason = "satisfied", "other"
	case assess.StatusNotApplicable, assess.StatusNotEvaluable, assess.StatusExcepted:
		reason = "other"
		if x.Status == assess.StatusNotApplicable {
			state = "satisfied"
		}
	}
	f := oscalFinding{
		UUID:        stableUUID("finding", obsID),
		Title:       oneLine(x.Control + " for " + x.Subject),
		Description: oneLine(sarifMessage(x)),
		Props:       []oscalProp{prop("status", string(x.Status)), prop("severity", strings.ToLower(x.Severity))},
		Target: oscalTarget{Type: "objective-id", TargetID: x.Control, Title: oneLine(x.Title),
			Status: oscalStatus{State: state, Reason: reason}},
		RelatedObservations: []oscalRelatedOb{{ObservationUUID: obsID}},
	}
	var remarks []string
	if x.Status != assess.StatusPass && x.Remediation != "" {
		remarks = append(remarks, "Remediation: "+strings.TrimSpace(x.Remediation))
	}
	if e := x.Exception; e != nil {
		s := "Excepted by " + e.Owner + ": " + e.Reason
		if e.Expires != nil {
			s += " (until " + e.Expires.String() + ")"
		}
		remarks = append(remarks, s)
	}
	if a := x.Attestation; a != nil {
		s := "Attested by " + a.By
		if a.Expires != nil {
			s += " until " + a.Expires.String()
		}
		remarks = append(remarks, s)
	}
	f.Remarks = strings.Join(remarks, "\n\n")
	return &f
}
