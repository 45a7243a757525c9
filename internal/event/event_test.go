package event

import (
	"net/netip"
	"testing"
	"time"
)

func TestResetKeepsFieldsStorage(t *testing.T) {
	e := Event{UserName: "u", Count: 3, Fields: map[string]string{"a": "1"}}
	f := e.Fields
	e.Reset()
	if e.UserName != "" || e.Count != 0 || len(e.Fields) != 0 {
		t.Fatalf("not reset: %+v", e)
	}
	e.SetField("b", "2")
	if f["b"] != "2" {
		t.Error("Fields map was not reused")
	}
	var z Event
	z.SetField("x", "y")
	if v, ok := z.Get("x"); !ok || v != "y" {
		t.Errorf("Get(x) = %q, %v", v, ok)
	}
}

func TestGetAndN(t *testing.T) {
	e := Event{Timestamp: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), SourceIP: netip.MustParseAddr("192.0.2.1"), Tenant: "t"}
	for name, want := range map[string]string{"@timestamp": "2026-11-26T10:00:00Z", "source.ip": "192.0.2.1", "organization.id": "t"} {
		if v, ok := e.Get(name); !ok || v != want {
			t.Errorf("Get(%s) = %q, %v", name, v, ok)
		}
	}
	if _, ok := e.Get("message"); ok {
		t.Error("empty message reported present")
	}
	e.Message = "Failed password for root from 192.0.2.1 port 22 ssh2"
	if v, ok := e.Get("message"); !ok || v != e.Message {
		t.Errorf("Get(message) = %q, %v", v, ok)
	}
	if _, ok := e.Get("user.name"); ok {
		t.Error("empty user.name reported present")
	}
	if e.N() != 1 {
		t.Errorf("N() = %d", e.N())
	}
	e.Count = 5
	if e.N() != 5 {
		t.Errorf("N() = %d", e.N())
	}
}
