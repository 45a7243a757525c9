package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/config"
)

// The deployment examples docs/deploy.md points to (deploy/): the compose
// file and the systemd env files name only variables firebreak reads, give
// every role a process, and make configurations that pass serve's
// validation, so the examples cannot drift from the code.

const deployDir = "../../deploy"

// knownEnv is every FIREBREAK_ variable serve reads: the configuration's
// own (asked of the environment by ApplyEnv), the flags' (envTable), and
// the secret key.
func knownEnv(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{secretKeyEnv: true}
	c := config.Default()
	if err := c.ApplyEnv(func(name string) (string, bool) { known[name] = true; return "", false }); err != nil {
		t.Fatal(err)
	}
	table := envTable(newRootCommand(&globalOptions{stdout: os.Stdout, stderr: os.Stderr}))
	for _, m := range regexp.MustCompile("`(FIREBREAK_[A-Z0-9_]+)`").FindAllStringSubmatch(table, -1) {
		known[m[1]] = true
	}
	if !known["FIREBREAK_BUS_URL"] || !known["FIREBREAK_SERVE_ROLES"] {
		t.Fatalf("the known variables lack FIREBREAK_BUS_URL or FIREBREAK_SERVE_ROLES: %v", known)
	}
	return known
}

// deployConfig is the configuration a process of the examples runs with:
// deploy/firebreak.yaml under its environment, validated as serve does.
func deployConfig(t *testing.T, where string, env map[string]string) config.Config {
	t.Helper()
	c := config.Default()
	if err := config.LoadFile(filepath.Join(deployDir, "firebreak.yaml"), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("%s: serve would refuse to start: %v", where, err)
	}
	if len(c.Roles) == 0 {
		t.Errorf("%s: no FIREBREAK_ROLES: a process of a split deployment takes some roles", where)
	}
	if c.Bus.URL == "" {
		// A worker starts without one, but its connectors' events would
		// never reach a detector (docs/deploy.md): every example has it.
		t.Errorf("%s: no bus.url (FIREBREAK_BUS_URL)", where)
	}
	return c
}

// checkEnv reports a variable firebreak does not read.
func checkEnv(t *testing.T, where string, names []string, known map[string]bool) {
	t.Helper()
	for _, n := range names {
		if strings.HasPrefix(n, "FIREBREAK_") && !known[n] {
			t.Errorf("%s names %s, which firebreak does not read (docs/verbs/env.md, docs/verbs/serve.md)", where, n)
		}
	}
}

// expand replaces compose's ${VAR}, ${VAR:-default} and ${VAR:?message}
// with a stand-in value (a valid secret key for the key).
func expand(v string) string {
	re := regexp.MustCompile(`\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}`)
	return re.ReplaceAllStringFunc(v, func(m string) string {
		sub := re.FindStringSubmatch(m)
		switch {
		case sub[1] == secretKeyEnv:
			return strings.Repeat("07", 32)
		case sub[2] == "-":
			return sub[3]
		}
		return "x"
	})
}

func TestDeployCompose(t *testing.T) {
	known := knownEnv(t)
	b, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			DependsOn   map[string]any    `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	roles := map[string]int{}
	for name, s := range f.Services {
		if !strings.HasPrefix(s.Image, "firebreak") {
			continue
		}
		where := "compose.yaml service " + name
		names := make([]string, 0, len(s.Environment))
		env := map[string]string{}
		for k, v := range s.Environment {
			names = append(names, k)
			env[k] = expand(v)
		}
		checkEnv(t, where, names, known)
		c := deployConfig(t, where, env)
		for _, r := range c.Roles {
			roles[r]++
		}
		// The configuration file and the estate are where the process looks.
		i := slices.Index(s.Command, "--config")
		if i < 0 || i+1 >= len(s.Command) {
			t.Errorf("%s: command %q has no --config", where, s.Command)
			continue
		}
		mounted := func(target string) bool {
			for _, v := range s.Volumes {
				if parts := strings.Split(v, ":"); len(parts) >= 2 && parts[1] == target {
					return true
				}
			}
			return false
		}
		if !mounted(s.Command[i+1]) {
			t.Errorf("%s: --config %s is not mounted (volumes %q)", where, s.Command[i+1], s.Volumes)
		}
		for _, p := range c.Estate.Paths {
			if !mounted(p) {
				t.Errorf("%s: estate path %s is not mounted (volumes %q)", where, p, s.Volumes)
			}
		}
		for dep := range s.DependsOn {
			if _, ok := f.Services[dep]; !ok {
				t.Errorf("%s depends on %s, which is not a service", where, dep)
			}
		}
	}
	for _, r := range config.AllRoles {
		if roles[r] == 0 {
			t.Errorf("compose.yaml: no service has the %s role", r)
		}
	}
	if roles[config.RoleDetect] < 2 {
		t.Errorf("compose.yaml: %d detectors; the example shows partitions shared by two", roles[config.RoleDetect])
	}
}

// readEnvFile returns an env file's assignments and every FIREBREAK_ name
// it mentions, commented-out ones too.
func readEnvFile(t *testing.T, path string) (map[string]string, []string) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fh.Close() }()
	env := map[string]string{}
	var names []string
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		names = append(names, regexp.MustCompile(`FIREBREAK_[A-Z0-9_]*[A-Z0-9]`).FindAllString(line, -1)...)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(k, " \t") {
			t.Errorf("%s:%d: expected NAME=value, got %q", path, n, line)
			continue
		}
		env[k] = v
	}
	return env, names
}

func TestDeploySystemd(t *testing.T) {
	known := knownEnv(t)
	dir := filepath.Join(deployDir, "systemd")
	common, names := readEnvFile(t, filepath.Join(dir, "common.env"))
	checkEnv(t, "systemd/common.env", names, known)
	if strings.Contains(common["FIREBREAK_SECRET_KEY"], "CHANGE-ME") {
		common["FIREBREAK_SECRET_KEY"] = strings.Repeat("07", 32) // the placeholder an operator replaces
	}
	unit, err := os.ReadFile(filepath.Join(dir, "firebreak@.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"EnvironmentFile=/etc/firebreak/common.env", "EnvironmentFile=/etc/firebreak/%i.env", "--config /etc/firebreak/firebreak.yaml"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("firebreak@.service lacks %q", want)
		}
	}
	for _, r := range config.AllRoles {
		path := filepath.Join(dir, r+".env")
		env, names := readEnvFile(t, path)
		checkEnv(t, "systemd/"+r+".env", names, known)
		for k := range common {
			if _, ok := env[k]; ok {
				t.Errorf("systemd/%s.env repeats %s of common.env", r, k)
			}
		}
		merged := map[string]string{"FIREBREAK_DATA_DIR": "/var/lib/firebreak/" + r} // the unit's Environment=
		for k, v := range common {
			merged[k] = v
		}
		for k, v := range env {
			merged[k] = v
		}
		c := deployConfig(t, "systemd/"+r+".env", merged)
		if !slices.Equal(c.Roles, []string{r}) {
			t.Errorf("systemd/%s.env: roles %q, want [%s]", r, c.Roles, r)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.env"))
	if len(files) != len(config.AllRoles)+1 {
		t.Errorf("systemd env files %q: want common.env and one per role %q", files, config.AllRoles)
	}
}

// TestDeployDocPaths: every deploy/ file docs/deploy.md names exists.
func TestDeployDocPaths(t *testing.T) {
	b, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	paths := regexp.MustCompile(`\.\./deploy/[A-Za-z0-9@._/-]+[A-Za-z0-9]`).FindAllString(string(b), -1)
	if len(paths) < 3 {
		t.Fatalf("docs/deploy.md links %d files of deploy/; expected the compose file, firebreak.yaml and the systemd files", len(paths))
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join("../../docs", p)); err != nil {
			t.Errorf("docs/deploy.md links %s: %v", p, err)
		}
	}
}
