package ingest

import (
	"embed"
	"fmt"
	"slices"
	"strings"
)

//go:embed mappings/*.yaml
var builtinFS embed.FS

// BuiltinMappings lists the generic-JSON mappings shipped with firebreak,
// usable as a format name: "rmm" (the RMM audit shape the RMM connectors
// write) and "screenconnect" (ConnectWise ScreenConnect trigger posts).
func BuiltinMappings() []string {
	ents, _ := builtinFS.ReadDir("mappings")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(out)
	return out
}

// KnownFormat reports whether f is accepted as Options.Format: one of
// Formats, an alias, or a built-in mapping.
func KnownFormat(f string) bool {
	_, alias := formatAliases[f]
	return slices.Contains(Formats, f) || alias || slices.Contains(BuiltinMappings(), f)
}

// BuiltinMapping returns the shipped mapping called name.
func BuiltinMapping(name string) (*Mapping, error) {
	b, err := builtinFS.ReadFile("mappings/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("%w %q (built-in mappings: %v)", ErrUnknownFormat, name, BuiltinMappings())
	}
	return ParseMapping("built-in mapping "+name, b)
}

// resolveBuiltin turns a format naming a built-in mapping into the generic
// format with that mapping. A format named explicitly wins over a
// configured mapping, except "rmm" with a mapping (the older alias of
// "generic" for RMM audit exports with their own mapping file).
func resolveBuiltin(opts *Options) error {
	if !slices.Contains(BuiltinMappings(), opts.Format) || (opts.Format == "rmm" && opts.Mapping != nil) {
		return nil
	}
	m, err := BuiltinMapping(opts.Format)
	if err != nil {
		return err
	}
	opts.Format, opts.Mapping = FormatGeneric, m
	return nil
}
