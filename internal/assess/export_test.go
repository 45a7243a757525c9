package assess

// Exported for the external tests (fresh_graph_test.go).
var (
	GapAffects       = gapAffects
	EvidenceOverlaps = evidenceOverlaps
)
