package version

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFrom(t *testing.T) {
	checkout := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		{Key: "vcs.time", Value: "2026-12-06T23:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	installed := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}}
	for _, tc := range []struct {
		name                 string
		bi                   *debug.BuildInfo
		ver, com, date       string
		wantVersion, wantCom string
		wantShort            string
	}{
		{name: "checkout", bi: checkout, wantVersion: "(devel)", wantCom: "0123456789abcdef0123", wantShort: "devel-0123456789ab+dirty"},
		{name: "go-install", bi: installed, wantVersion: "1.4.0", wantCom: "unknown", wantShort: "1.4.0"},
		{name: "stamped", bi: checkout, ver: "v2.0.0", com: "feedbeef", date: "2026-12-07T00:00:00Z", wantVersion: "2.0.0", wantCom: "feedbeef", wantShort: "2.0.0+dirty"},
		{name: "no-buildinfo", bi: nil, wantVersion: "(devel)", wantCom: "unknown", wantShort: "(devel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := from(tc.bi, tc.ver, tc.com, tc.date)
			got := []string{in.Version, in.Commit, in.Short()}
			want := []string{tc.wantVersion, tc.wantCom, tc.wantShort}
			if d := cmp.Diff(got, want); d != "" {
				t.Errorf("(-got +want)\n%s", d)
			}
			if !strings.HasPrefix(in.UserAgent(), "firebreak/"+tc.wantShort+" ") {
				t.Errorf("UserAgent %q", in.UserAgent())
			}
		})
	}
}

// TestGet checks the running test binary reports a toolchain.
func TestGet(t *testing.T) {
	in := Get()
	if !strings.HasPrefix(in.GoVersion, "go") || in.Version == "" {
		t.Errorf("Get() = %+v", in)
	}
}
