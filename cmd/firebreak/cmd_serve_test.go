package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

// TestServeConfigPrecedence checks flag > environment > file > default.
func TestServeConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:9001\ndata_dir: /from/file\nestate:\n  paths: [file-estate]\nretention:\n  events_days: 200\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var o serveOptions
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--listen", "127.0.0.1:9003"}); err != nil {
		t.Fatal(err)
	}
	o.flags = fs
	env := map[string]string{"FIREBREAK_LISTEN": "127.0.0.1:9002", "FIREBREAK_DATA_DIR": "/from/env"}
	cfg, err := serveConfig(o, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9003" {
		t.Errorf("listen = %s, want the flag's", cfg.Listen)
	}
	if cfg.DataDir != "/from/env" {
		t.Errorf("data_dir = %s, want the environment's", cfg.DataDir)
	}
	if len(cfg.Estate.Paths) != 1 || cfg.Estate.Paths[0] != "file-estate" || cfg.Retention.EventsDays != 200 {
		t.Errorf("file values lost: %+v %+v", cfg.Estate, cfg.Retention)
	}
	if cfg.Auth.MaxFailures != 5 {
		t.Errorf("default lost: max_failures %d", cfg.Auth.MaxFailures)
	}
	// Unknown keys and invalid values are usage errors.
	if err := os.WriteFile(file, []byte("listne: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := serveConfig(serveOptions{config: file}, func(string) (string, bool) { return "", false }); err == nil {
		t.Error("unknown key accepted")
	} else if _, ok := err.(usageError); !ok {
		t.Errorf("unknown key: %T, want usageError", err)
	}
}
