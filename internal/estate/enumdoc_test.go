package estate

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// enumDocLines are the lines docs/model.md's "Accepted values" section
// must hold: every enum the decoder accepts, with its values in the
// decoder's order, so the page cannot drift from enumValues/fieldEnums.
func enumDocLines() []string {
	var out []string
	line := func(name string, vals []string) string {
		return "- `" + name + "`: `" + strings.Join(vals, "`, `") + "`"
	}
	var types []reflect.Type
	for t := range enumValues {
		types = append(types, t)
	}
	slices.SortFunc(types, func(a, b reflect.Type) int { return strings.Compare(a.Name(), b.Name()) })
	for _, t := range types {
		out = append(out, line(t.Name(), enumValues[t]))
	}
	var keys []string
	for k := range fieldEnums {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, line(k, fieldEnums[k]))
	}
	return out
}

func TestModelDocListsEnums(t *testing.T) {
	b, err := os.ReadFile("../../docs/model.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var missing []string
	for _, l := range enumDocLines() {
		if !strings.Contains(doc, l+"\n") {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		t.Errorf("docs/model.md's accepted values drifted from the decoder; want these lines:\n%s", strings.Join(missing, "\n"))
	}
	if strings.Contains(doc, "vaulted\" MSP accounts have no field") {
		t.Error("docs/model.md still says dedicated, vaulted accounts have no field (identities[].account, FB-PRIV-008)")
	}
}
