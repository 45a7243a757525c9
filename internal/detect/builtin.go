package detect

import (
	"embed"
	"io/fs"
)

//go:embed rules/*.yml
var builtinFS embed.FS

// Builtin returns the built-in rule pack (internal/detect/rules/*.yml).
func Builtin() ([]*Rule, error) {
	sub, err := fs.Sub(builtinFS, "rules")
	if err != nil {
		return nil, err
	}
	return LoadRules(sub)
}

// BuiltinFS returns the built-in rule files, e.g. for `detect --list-rules`.
func BuiltinFS() fs.FS {
	sub, _ := fs.Sub(builtinFS, "rules")
	return sub
}
