package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestServeLogFormat: --log-format beats FIREBREAK_LOG_FORMAT beats the
// file, a bad value is a usage error, and json gives one JSON object a line.
func TestServeLogFormat(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(file, []byte("log_format: json\ndata_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		want  string
		usage bool
	}{
		{"file", []string{"--config", file}, nil, "json", false},
		{"env_over_file", []string{"--config", file}, map[string]string{"FIREBREAK_LOG_FORMAT": "text"}, "text", false},
		{"flag_over_env", []string{"--config", file, "--log-format", "json"}, map[string]string{"FIREBREAK_LOG_FORMAT": "text"}, "json", false},
		{"bad", []string{"--config", file, "--log-format", "xml"}, nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o serveOptions
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			o.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			o.flags = fs
			cfg, err := serveConfig(o, env(tc.env))
			var ue usageError
			if tc.usage {
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), "log_format") {
					t.Errorf("serveConfig = %v, want a usage error naming log_format", err)
				}
				return
			}
			if err != nil || cfg.LogFormat != tc.want {
				t.Errorf("LogFormat = %q (%v), want %q", cfg.LogFormat, err, tc.want)
			}
		})
	}
	var buf bytes.Buffer
	log := serveLogger(&globalOptions{stderr: &buf}, "info", "json")
	log.Info("serving", "url", "https://127.0.0.1:8443", "n", 3)
	log.Warn("second line")
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] == nil || m["level"] == nil {
			t.Errorf("log line %q is not a JSON record: %v", line, err)
		}
	}
}

// TestServeJSONStartup: under --log-format json every line serve writes to
// stderr at start (the owner's one-time password, the self-signed
// certificate's fingerprint, the address) is a JSON record.
func TestServeJSONStartup(t *testing.T) {
	var buf syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json"}, io.Discard, &buf)
	}()
	for !strings.Contains(buf.String(), `"msg":"serving"`) {
		select {
		case code := <-done:
			t.Fatalf("serve ended with %d\n%s", code, buf.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	<-done
	var saw []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("stderr line %q is not JSON: %v", line, err)
			continue
		}
		saw = append(saw, fmt.Sprint(m["msg"]))
	}
	for _, want := range []string{"one-time password", "self-signed certificate", "serving"} {
		if !strings.Contains(strings.Join(saw, "\n"), want) {
			t.Errorf("no JSON record about %q among %q", want, saw)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
