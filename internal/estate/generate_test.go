package estate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestGenerateValid(t *testing.T) {
	e := Generate(GenOptions{Tenants: 20, Identities: 300, Grants: 500, Assets: 200, Seed: 1})
	if err := Validate(e); err != nil {
		t.Fatal(err)
	}
	if len(e.Tenants) != 20 || len(e.Identities) != 300 || len(e.Grants) != 500 || len(e.Assets) != 200 {
		t.Errorf("sizes = %d/%d/%d/%d", len(e.Tenants), len(e.Identities), len(e.Grants), len(e.Assets))
	}
	again := Generate(GenOptions{Tenants: 20, Identities: 300, Grants: 500, Assets: 200, Seed: 1})
	if d := cmp.Diff(e, again); d != "" {
		t.Errorf("same seed, different estate (-first +second):\n%s", d)
	}
}

func TestWriteDirRoundTrip(t *testing.T) {
	for _, bulk := range []string{"csv", "yaml"} {
		t.Run(bulk, func(t *testing.T) {
			e := Generate(GenOptions{Tenants: 7, Identities: 60, Grants: 90, Assets: 40, Seed: 7})
			dir := t.TempDir()
			if err := WriteDir(dir, e, WriteOptions{Bulk: bulk}); err != nil {
				t.Fatal(err)
			}
			got, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			opts := []cmp.Option{
				cmpopts.IgnoreTypes(Pos{}),
				cmpopts.IgnoreFields(Estate{}, "Sources", "Imports"),
				cmpopts.EquateEmpty(),
			}
			if d := cmp.Diff(got, e, opts...); d != "" {
				t.Errorf("round trip (-got +want):\n%s", d)
			}
		})
	}
}
