package connector

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Secret is a credential (token, key, password) that must never be printed
// or logged: String, GoString, LogValue and text/JSON/YAML marshalling
// redact it. Convert with string(s) only where it is sent.
type Secret string

const redacted = "[REDACTED]"

func (Secret) String() string                  { return redacted }
func (Secret) GoString() string                { return redacted }
func (Secret) LogValue() slog.Value            { return slog.StringValue(redacted) }
func (Secret) MarshalText() ([]byte, error)    { return []byte(redacted), nil }
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, redacted) }

// SecretRef says where a secret is: an environment variable or a file
// (whose content is trimmed of surrounding whitespace). Configs hold only
// references, never the secret itself.
type SecretRef struct {
	Env  string `yaml:"env,omitempty" json:"env,omitempty"`
	File string `yaml:"file,omitempty" json:"file,omitempty"`
}

// ErrSecretInConfig is a secret written into a config file as a literal.
var ErrSecretInConfig = errors.New("a secret must be given as {env: NAME} or {file: PATH}, not as a literal value")

// UnmarshalYAML accepts only a mapping with env or file; a plain string is
// rejected so a secret never sits in a config file.
func (r *SecretRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %w", n.Line, ErrSecretInConfig)
	}
	type plain SecretRef
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	if (p.Env == "") == (p.File == "") {
		return fmt.Errorf("line %d: give exactly one of env or file", n.Line)
	}
	*r = SecretRef(p)
	return nil
}

// IsZero reports an unset reference.
func (r SecretRef) IsZero() bool { return r.Env == "" && r.File == "" }

// String names the reference, never the value.
func (r SecretRef) String() string {
	if r.Env != "" {
		return "env " + r.Env
	}
	if r.File != "" {
		return "file " + r.File
	}
	return "unset"
}

// Resolve reads the secret. An empty variable or file is an error naming
// the reference (not the value).
func (r SecretRef) Resolve(env Env) (Secret, error) {
	getenv, readFile := env.Getenv, env.ReadFile
	if getenv == nil {
		getenv = os.Getenv
	}
	if readFile == nil {
		readFile = os.ReadFile
	}
	switch {
	case r.Env != "":
		v := getenv(r.Env)
		if v == "" {
			return "", fmt.Errorf("secret from %s: the variable is empty or unset", r)
		}
		return Secret(v), nil
	case r.File != "":
		b, err := readFile(r.File)
		if err != nil {
			return "", fmt.Errorf("secret from %s: %w", r, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("secret from %s: the file is empty", r)
		}
		return Secret(v), nil
	}
	return "", errors.New("secret: no env or file given")
}
