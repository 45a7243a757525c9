package server

import (
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/version"
)

// TestBuildVersionShown: /metrics carries firebreak_build_info with this
// build's version, the signed-in dashboard's footer names the server's
// version, and an anonymous page does not.
func TestBuildVersionShown(t *testing.T) {
	f := newFixture(t)
	_, metrics := f.client().do("GET", "/metrics", nil, nil)
	want := `firebreak_build_info{commit="` + version.Get().Commit + `",goversion="` + version.Get().GoVersion + `",version="` + version.Get().Short() + `"} 1`
	if !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	c := f.client()
	c.login("owner1")
	_, page := c.do("GET", "/", nil, nil)
	if !strings.Contains(page, `<footer class="footer">firebreak dev</footer>`) {
		t.Errorf("signed-in page lacks the version footer")
	}
	_, login := f.client().do("GET", "/login", nil, nil)
	if strings.Contains(login, `class="footer"`) {
		t.Errorf("the sign-in page shows the version to anonymous visitors")
	}
}
