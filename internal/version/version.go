// Package version says which build of firebreak is running: the release
// version, the commit and build date, and the Go toolchain, from values the
// release build stamps in with -ldflags -X or else from the module build
// information the Go toolchain records (go install, go build in a checkout).
// Any package may import it; it imports only the standard library.
package version

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Stamped by release builds (scripts/dist, goreleaser):
//
//	-ldflags "-X github.com/firebreak-msp/firebreak/internal/version.version=1.2.3
//	          -X github.com/firebreak-msp/firebreak/internal/version.commit=abc123
//	          -X github.com/firebreak-msp/firebreak/internal/version.date=2026-12-07T00:00:00Z"
//
// They are variables only so the linker can set them; nothing assigns them at
// run time.
var (
	version string
	commit  string
	date    string
)

// Info describes one build.
type Info struct {
	Version   string `json:"version"`    // release version, "(devel)" for a build from a checkout
	Commit    string `json:"commit"`     // VCS revision, "unknown" when not recorded
	Date      string `json:"date"`       // build or commit time, RFC 3339, "unknown" when not recorded
	Modified  bool   `json:"modified"`   // built from a work tree with uncommitted changes
	GoVersion string `json:"go_version"` // toolchain that built the binary
	Platform  string `json:"platform"`   // GOOS/GOARCH
}

// Get returns the running binary's build information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return from(bi, version, commit, date)
}

// from combines stamped values with the toolchain's build information; the
// stamped values win. Split from Get so tests can feed it both.
func from(bi *debug.BuildInfo, stampedVersion, stampedCommit, stampedDate string) Info {
	in := Info{GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	var rev, vcsTime string
	if bi != nil {
		in.GoVersion = cmp.Or(bi.GoVersion, in.GoVersion)
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			in.Version = strings.TrimPrefix(v, "v")
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				vcsTime = s.Value
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
	}
	in.Version = cmp.Or(strings.TrimPrefix(stampedVersion, "v"), in.Version, "(devel)")
	in.Commit = cmp.Or(stampedCommit, rev, "unknown")
	in.Date = cmp.Or(stampedDate, vcsTime, "unknown")
	return in
}

// Short is the version alone, with a "+dirty" mark for modified work trees:
// what reports, metrics and the dashboard footer show.
func (in Info) Short() string {
	v := in.Version
	if v == "(devel)" && in.Commit != "unknown" {
		v = "devel-" + shortCommit(in.Commit)
	}
	if in.Modified {
		v += "+dirty"
	}
	return v
}

// String is the one-line form `firebreak --version` prints.
func (in Info) String() string {
	return fmt.Sprintf("firebreak %s (commit %s, built %s, %s, %s)", in.Short(), shortCommit(in.Commit), in.Date, in.GoVersion, in.Platform)
}

// UserAgent is the User-Agent firebreak sends on outbound HTTP requests.
func (in Info) UserAgent() string {
	return "firebreak/" + in.Short() + " (+https://github.com/firebreak-msp/firebreak)"
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
