package estate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrNoEstateFiles is returned when a directory holds no .yaml/.yml/.json file.
var ErrNoEstateFiles = errors.New("no .yaml, .yml or .json estate files")

// ErrCSVNotEstate is returned when Load is given a CSV file directly.
var ErrCSVNotEstate = errors.New("a CSV file is loaded through an imports: entry of a YAML or JSON estate file (kind identities, assets, grants, groups or gdap_assignments), not on its own")

// Load reads an estate from a file or a directory of .yaml, .yml and .json
// files (not recursive; files are read in name order and merged), plus the
// CSV files their imports: entries declare. Decoding is strict. When the input
// is invalid Load returns a *ValidationError listing every problem with
// file:line:col and field path; I/O failures are returned as ordinary errors.
func Load(path string) (*Estate, error) {
	files, err := estateFiles(path)
	if err != nil {
		return nil, err
	}
	l := newLoader()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("loading estate: %w", err)
		}
		l.addFile(f, data)
	}
	if err := l.runImports(); err != nil {
		return nil, err
	}
	return l.finish()
}

// Parse reads one estate document (YAML or JSON) from r; name is used in
// positions and to resolve CSV imports relative to it.
func Parse(r io.Reader, name string) (*Estate, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading estate %s: %w", name, err)
	}
	return parse(data, name, true)
}

// parse decodes one document; imports false skips CSV imports (fuzzing must
// not read arbitrary files named by its input).
func parse(data []byte, name string, imports bool) (*Estate, error) {
	l := newLoader()
	l.addFile(name, data)
	if imports {
		if err := l.runImports(); err != nil {
			return nil, err
		}
	}
	return l.finish()
}

func estateFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("loading estate: %w", err)
	}
	if !st.IsDir() {
		if strings.EqualFold(filepath.Ext(path), ".csv") {
			return nil, fmt.Errorf("loading estate %s: %w", path, ErrCSVNotEstate)
		}
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("loading estate: %w", err)
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("loading estate %s: %w", path, ErrNoEstateFiles)
	}
	sort.Strings(files)
	return files, nil
}

// loader accumulates files into one estate.
type loader struct {
	est      *Estate
	probs    problems
	refs     map[refKey]fieldLoc
	csv      map[string]*csvFile // CSV file name -> header mapping, for locating fields
	types    map[reflect.Type]*structInfo
	provider Pos // where provider: was defined
	settings Pos
	imports  []pendingImport
	gdapRows []gdapRow // GDAP assignment rows, filed under their tools by mergeImported
}

type pendingImport struct {
	imp  CSVImport
	from string // declaring file
	idx  int
}

func newLoader() *loader {
	return &loader{
		est:   &Estate{},
		refs:  make(map[refKey]fieldLoc),
		csv:   make(map[string]*csvFile),
		types: newTypeCache(),
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// addFile decodes one YAML/JSON file (every document in it) and merges it.
func (l *loader) addFile(name string, data []byte) {
	l.est.Sources = append(l.est.Sources, name)
	if strings.EqualFold(filepath.Ext(name), ".json") {
		// JSON allows tabs as whitespace, YAML indentation does not. Tabs
		// cannot occur unescaped inside JSON strings, so replacing them
		// one-for-one keeps every line and column.
		data = bytes.ReplaceAll(data, []byte{'\t'}, []byte{' '})
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 0; ; doc++ {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			l.probs.errs = append(l.probs.errs, syntaxError(name, err))
			return
		}
		l.addDocument(name, &root)
	}
}

func syntaxError(name string, err error) FieldError {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	return FieldError{Pos: Pos{File: name, Line: line, Col: 1}, Message: "syntax error: " + msg, Expected: "valid YAML or JSON"}
}

func (l *loader) addDocument(name string, root *yaml.Node) {
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	n = resolve(n)
	if isNull(n) {
		return
	}
	d := &decoder{file: name, probs: &l.probs, refs: l.refs, types: l.types}
	if n.Kind != yaml.MappingNode {
		d.errf(n, nil, "found "+kindName(n)+" at the top level", "a mapping with keys such as provider, tenants, identities, grants")
		return
	}
	var part Estate
	d.decodeStruct(n, reflect.ValueOf(&part).Elem(), nil, Pos{}, "")
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "provider":
			here := d.pos(n.Content[i])
			if l.provider.File != "" {
				d.errf(n.Content[i], (&pathElem{idx: -1, key: "provider"}), "provider defined twice (first at "+l.provider.String()+")", "one provider: section across all files")
				continue
			}
			l.provider = here
			l.est.Provider = part.Provider
		case "settings":
			here := d.pos(n.Content[i])
			if l.settings.File != "" {
				d.errf(n.Content[i], (&pathElem{idx: -1, key: "settings"}), "settings defined twice (first at "+l.settings.String()+")", "one settings: section across all files")
				continue
			}
			l.settings = here
			l.est.Settings = part.Settings
		}
	}
	for i, imp := range part.Imports {
		l.imports = append(l.imports, pendingImport{imp: imp, from: name, idx: i})
	}
	l.est.merge(&part)
}

// merge appends part's lists to e (provider and settings are handled by the loader).
func (e *Estate) merge(part *Estate) {
	e.Tenants = append(e.Tenants, part.Tenants...)
	e.Identities = append(e.Identities, part.Identities...)
	e.Groups = append(e.Groups, part.Groups...)
	e.Tools = append(e.Tools, part.Tools...)
	e.Grants = append(e.Grants, part.Grants...)
	e.Assets = append(e.Assets, part.Assets...)
	e.Backups = append(e.Backups, part.Backups...)
	e.IRPlans = append(e.IRPlans, part.IRPlans...)
	e.Contracts = append(e.Contracts, part.Contracts...)
	e.Vendors = append(e.Vendors, part.Vendors...)
	e.Attestations = append(e.Attestations, part.Attestations...)
	e.Exceptions = append(e.Exceptions, part.Exceptions...)
	e.Imports = append(e.Imports, part.Imports...)
	e.DomainChecks = append(e.DomainChecks, part.DomainChecks...)
	e.Exposures = append(e.Exposures, part.Exposures...)
	e.CollectionGap = append(e.CollectionGap, part.CollectionGap...)
}

// finish validates the merged estate and returns it, or every problem.
func (l *loader) finish() (*Estate, error) {
	if l.est.Provider.ID == "" {
		l.est.Provider.ID = MSP
	}
	l.mergeImported()
	v := &validator{e: l.est, probs: &l.probs, loc: l.locate}
	v.run()
	if err := l.probs.err(); err != nil {
		return nil, err
	}
	l.est.foldGDAPShorthand()
	l.est.providerIDIsMSP()
	return l.est, nil
}

// providerIDIsMSP writes "msp" wherever the provider's own id names the
// MSP (validation accepts both), so the engines and the ownership rule,
// which know the MSP as "msp", read one name.
func (e *Estate) providerIDIsMSP() {
	id := e.Provider.ID
	if id == MSP {
		return
	}
	fix := func(s *string) {
		if *s == id {
			*s = MSP
		}
	}
	for i := range e.Identities {
		fix(&e.Identities[i].Home)
	}
	for i := range e.Groups {
		fix(&e.Groups[i].Home)
	}
	for i := range e.Tools {
		fix(&e.Tools[i].Owner)
	}
	for i := range e.Grants {
		fix(&e.Grants[i].Subject)
		fix(&e.Grants[i].Target)
	}
	for i := range e.Assets {
		fix(&e.Assets[i].Tenant)
	}
	for i := range e.Backups {
		fix(&e.Backups[i].Tenant)
	}
	for i := range e.IRPlans {
		fix(&e.IRPlans[i].Party)
	}
	for i := range e.Attestations {
		fix(&e.Attestations[i].Subject)
	}
	for i := range e.Exceptions {
		fix(&e.Exceptions[i].Subject)
	}
}

// foldGDAPShorthand turns each GDAP relationship's compact active: and
// eligible: lists into the assignments they stand for (the group holding
// the relationship's roles, active or eligible), so the engines read one
// form. Each assignment takes the relationship's position.
func (e *Estate) foldGDAPShorthand() {
	for i := range e.Tools {
		gd := e.Tools[i].GDAP
		if gd == nil || len(gd.Active)+len(gd.Eligible) == 0 {
			continue
		}
		for _, g := range gd.Active {
			gd.Assignments = append(gd.Assignments, GDAPAssignment{Group: g, Assignment: AssignActive, Pos: e.Tools[i].Pos})
		}
		for _, g := range gd.Eligible {
			gd.Assignments = append(gd.Assignments, GDAPAssignment{Group: g, Assignment: AssignEligible, Pos: e.Tools[i].Pos})
		}
		gd.Active, gd.Eligible = nil, nil
	}
}

// locate finds where a field of an object was read: the exact position
// when known (YAML/JSON field, CSV cell), else the object's own position.
// The boolean is false when the problem was already reported once for the
// whole file (a missing required CSV column).
func (l *loader) locate(obj Pos, rel string, elem int, fallback string) (Pos, string, bool) {
	if fl, ok := l.refs[refKey{obj: obj, field: rel, elem: elem}]; ok {
		return fl.pos, fl.path, !fl.failed
	}
	if cf := l.csv[obj.File]; cf != nil && obj.File != "" {
		if cf.missing[rel] {
			return obj, rel, false
		}
		p, path := cf.locate(obj, rel, elem)
		return p, path, true
	}
	return obj, fallback, true
}
