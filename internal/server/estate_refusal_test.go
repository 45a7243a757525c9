package server

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// With every estate slot taken, a client that uploads its whole multi-MB
// document before reading the answer (as curl and most HTTP/1.1 clients
// do) gets the 429: the server reads the body first instead of closing a
// connection with unread data (which resets it and loses the answer).
func TestEstateRefusalReachesUploadingClient(t *testing.T) {
	f := newFixture(t)
	f.srv.cfg.Ingest.MaxBodyBytes = 16 << 20 // the default: the document fits
	a := f.client()
	a.login("analyst1")
	for range maxEstateJobs {
		f.srv.estateSlots <- struct{}{}
	}
	defer func() {
		for range maxEstateJobs {
			<-f.srv.estateSlots
		}
	}()
	u, _ := url.Parse(f.ts.URL)
	pool := x509.NewCertPool()
	pool.AddCert(f.ts.Certificate())
	var cookies []string
	for _, c := range a.c.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	doc := "provider:\n  id: msp\n  name: Test MSP\n# " + strings.Repeat("x", 6<<20) + "\n"
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("POST /api/v1/estate/validate HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nX-CSRF-Token: %s\r\nContent-Type: application/yaml\r\nContent-Length: %d\r\n\r\n",
		u.Host, strings.Join(cookies, "; "), a.csrf, len(doc))
	if _, err := conn.Write([]byte(head + doc)); err != nil {
		t.Fatalf("uploading: %v (the server closed the connection before reading the body)", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the refusal did not reach the client: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("validation with every slot taken: %d, want 429 with Retry-After", resp.StatusCode)
	}
}
