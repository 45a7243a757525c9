package server

import (
	"encoding/json"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// Rows tied on the score are ordered by how easily each is taken, and the
// "why this rank" sentence says so with the reasons (issue 15, v15: an
// internet-facing account with no MFA ranked below accounts with
// phishing-resistant MFA at the same score, unexplained).
func TestBlastRowsTieSaysHowEasilyTaken(t *testing.T) {
	doc := `{"ranking":[` +
		`{"id":"svc-legacy-scan","kind":"identity","mfa":"none","tenants_full":0,"tenants_admin":25,"tenants_any":25,"weighted_admin":6351,"ease":7,"taken_by":["an entry point from the internet","no MFA"]},` +
		`{"id":"tech-01","kind":"identity","mfa":"phishing-resistant","tenants_full":25,"tenants_admin":25,"tenants_any":25,"weighted_admin":6351,"ease":1}]}`
	b := &store.BlastResult{JSON: json.RawMessage(doc), Ranking: []store.BlastRank{
		{Rank: 1, Node: "svc-legacy-scan", Kind: "identity", Score: 6351},
		{Rank: 2, Node: "tech-01", Kind: "identity", Score: 6351},
	}}
	rows := blastRows(b)
	want := "same score as #1, which is more easily taken (#1: an entry point from the internet, no MFA; this: nothing makes it easy to take)"
	if rows[1].Tie != want {
		t.Errorf("tie sentence: %q, want %q", rows[1].Tie, want)
	}
}
