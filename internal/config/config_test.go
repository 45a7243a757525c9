package config

import (
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	err := Decode(strings.NewReader("listen: 127.0.0.1:9000\nbogus: 1\n"), "f.yaml", &c)
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown key: %v", err)
	}
	c = Default()
	if err := Decode(strings.NewReader("listen: 127.0.0.1:9000\nassess:\n  interval: 2h\n"), "f.yaml", &c); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FIREBREAK_LISTEN": "127.0.0.1:9100", "FIREBREAK_ESTATE": "a,b"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9100" || c.Assess.Interval != 2*time.Hour || len(c.Estate.Paths) != 2 {
		t.Errorf("precedence: %+v", c)
	}
	c.Auth.MaxFailures = 0
	c.Listen = "nope"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "listen") || !strings.Contains(err.Error(), "max_failures") {
		t.Errorf("validate: %v", err)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add("listen: 127.0.0.1:1\n")
	f.Add("auth:\n  session_ttl: 1h\n")
	f.Fuzz(func(t *testing.T, s string) {
		c := Default()
		if Decode(strings.NewReader(s), "f", &c) == nil {
			_ = c.Validate()
		}
	})
}
