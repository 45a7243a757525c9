package useragent

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClientSetsUserAgent(t *testing.T) {
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.UserAgent() }))
	defer srv.Close()

	plain := &http.Client{Timeout: 5 * time.Second}
	c := Client(plain)
	if plain.Transport != nil {
		t.Fatal("Client changed the client it was given")
	}
	if c.Timeout != 5*time.Second {
		t.Fatalf("timeout not kept: %v", c.Timeout)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ua := <-got; ua != String() || !strings.HasPrefix(ua, "firebreak/") {
		t.Fatalf("User-Agent %q, want %q", ua, String())
	}
	if req.Header.Get("User-Agent") != "" {
		t.Fatal("the caller's request was modified")
	}

	// An explicit User-Agent is kept.
	req, _ = http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("User-Agent", "custom/1")
	resp, err = Client(c).Do(req) // wrapping twice is harmless
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ua := <-got; ua != "custom/1" {
		t.Fatalf("explicit User-Agent replaced: %q", ua)
	}
	if _, ok := Client(c).Transport.(transport).base.(transport); ok {
		t.Fatal("Client wrapped an already wrapped transport")
	}
}
