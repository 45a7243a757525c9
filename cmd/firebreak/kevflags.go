package main

import (
	"compress/gzip"
	"errors"
	"fmt"

	"github.com/firebreak-msp/firebreak/examples"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"

	"github.com/spf13/pflag"
)

// addKEVFlags defines --kev and --no-kev, the same for every verb that
// matches KEV (assess, blast): one definition, one meaning.
func addKEVFlags(f *pflag.FlagSet, file *string, no *bool) {
	f.StringVar(file, "kev", "", "CISA KEV catalog JSON `FILE` to flag known-exploited vulnerabilities (default: the catalog stored by `firebreak kev update`, if any)")
	f.BoolVar(no, "no-kev", false, "do not use any KEV catalog (not even the stored one): known-exploited flaws are not flagged")
}

// checkKEVFlags rejects --kev with --no-kev.
func checkKEVFlags(file string, no bool) error {
	if no && file != "" {
		return usageError{errors.New("--kev and --no-kev exclude each other")}
	}
	return nil
}

// noKEVMissing is what assess names as missing for the KEV controls under
// --no-kev.
const noKEVMissing = "CISA KEV catalog (--no-kev given)"

// kevUse is the KEV catalog a verb judges by and the line stating it.
type kevUse struct {
	Cat     *kev.Catalog // nil: none
	Line    string       // kev.Used: "KEV: …", printed by blast and assess and shown by the dashboard
	Missing string       // why there is none, for the KEV controls' "not evaluable" (Cat nil)
}

// resolveKEV is the one rule for which KEV catalog numbers use, followed by
// assess, blast, attest, serve and the demo: --no-kev none; --kev FILE that
// file; else the catalog `firebreak kev update` stored in dataDir (empty:
// defaultDataDir); else the snapshot built into the binary, saying so
// ("KEV: built-in snapshot of 2025-08-25 (…) — run `firebreak kev update`
// for today's").
func resolveKEV(file string, none bool, dataDir string, getenv func(string) string) (kevUse, error) {
	if none {
		return kevUse{Line: kev.Used("", nil, "--no-kev; known-exploited flaws are not flagged"), Missing: noKEVMissing}, nil
	}
	if file != "" {
		c, err := kev.Load(file)
		if err != nil {
			return kevUse{}, fmt.Errorf("--kev: %w", err)
		}
		return kevUse{Cat: c, Line: kev.Used(kev.FileWhat(file), c, "")}, nil
	}
	if dataDir == "" {
		// Where `kev update` stores it by default, even when a store
		// left in ./firebreak-data makes that serve's data directory.
		var err error
		if dataDir, err = kev.DataDir(getenv); err != nil {
			dataDir, _ = defaultDataDir(getenv)
		}
	}
	c, err := kev.LoadStored(dataDir)
	switch {
	case err == nil:
		return kevUse{Cat: c, Line: kev.Used(kev.StoredWhat, c, "")}, nil
	case !errors.Is(err, kev.ErrNoStoredCatalog):
		return kevUse{}, fmt.Errorf("stored KEV catalog: %w", err)
	}
	c, err = builtinKEV()
	if err != nil {
		return kevUse{}, err
	}
	return kevUse{Cat: c, Line: kev.Used(kev.BuiltinWhat, c, kev.BuiltinHint)}, nil
}

// builtinKEV is the CISA KEV snapshot embedded in the binary (examples.KEV).
func builtinKEV() (*kev.Catalog, error) {
	f, err := examples.Files.Open(examples.KEV)
	if err != nil {
		return nil, fmt.Errorf("built-in KEV snapshot: %w", err)
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("built-in KEV snapshot: %w", err)
	}
	defer func() { _ = zr.Close() }()
	return kev.Parse(zr, "built-in snapshot")
}
