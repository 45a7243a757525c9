package google

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/collect/google/googletest"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/connector/connectortest"
)

// TestReportsSchema: every property the connector reads from a login
// activity, and every property of the activities the fake answers with,
// exists in the Reports API's published discovery document (excerpt in
// testdata). The Directory API reads are not checked this way (see the
// excerpt's _source).
func TestReportsSchema(t *testing.T) {
	sch, err := connectortest.LoadSchemas("testdata/reports-v1-excerpt.json")
	if err != nil {
		t.Fatal(err)
	}
	sch.CheckStruct(func(s string) { t.Error(s) }, reflect.TypeOf(Activity{}), "Activity", "Activity")
	sch.CheckStruct(func(s string) { t.Error(s) }, reflect.TypeOf(activitiesPage{}), "Activities", "activitiesPage")

	c := cust("acme", 1)
	for i := range 6 {
		name, ft := "login_failure", "login_failure_invalid_password"
		if i%3 == 2 {
			name, ft = "login_success", ""
		}
		c.Activities = append(c.Activities, googletest.Login(c, i, testNow.Add(time.Duration(i-6)*time.Minute), name, ft, fmt.Sprintf("user%d@acme.example", i%2), "203.0.113.9"))
	}
	srv, env, cc := setup(t, c)
	g, _ := New(Config{Customers: cc, APIURL: srv.Srv.URL, LoginSince: time.Hour}, env)
	n := 0
	emit := func(r connector.Record) error {
		n++
		var v any
		if err := json.Unmarshal(r.Raw, &v); err != nil {
			t.Fatal(err)
		}
		sch.CheckJSON(func(s string) { t.Error(s) }, v, "Activity", "Activity")
		return nil
	}
	if _, runs, err := g.Poll(context.Background(), connector.Request{Now: testNow}, nil, emit); err != nil || len(runs) != 1 || !runs[0].OK() {
		t.Fatalf("poll: %v %+v", err, runs)
	}
	if n == 0 {
		t.Fatal("the fake answered no activities")
	}
	var bad []string
	sch.CheckJSON(func(s string) { bad = append(bad, s) }, map[string]any{"id": map[string]any{"timestamp": "x"}}, "Activity", "x")
	if len(bad) != 1 {
		t.Errorf("a property missing from the description was accepted: %v", bad)
	}
}
