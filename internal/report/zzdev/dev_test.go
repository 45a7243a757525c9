package zzdev

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/report"
)

func TestDev(t *testing.T) {
	e, err := estate.Load("../../../examples/harbourview")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	k, err := kev.Load("/work/shared/data/kev/known_exploited_vulnerabilities-2025.08.25.json")
	if err != nil {
		t.Fatal(err)
	}
	en, err := assess.New(cat, assess.Options{KEV: k, Clock: func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	r, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range report.Formats {
		ext := map[string]string{"table": "txt", "oscal": "oscal.json"}[f]
		if ext == "" {
			ext = f
		}
		if err := report.WriteFile("/tmp/hv/rep."+ext, f, r, report.Options{Catalog: cat, Color: f == "table" && os.Getenv("C") != ""}); err != nil {
			t.Fatal(err)
		}
	}
}
