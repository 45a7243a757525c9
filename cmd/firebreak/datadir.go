package main

import (
	"os"
	"path/filepath"

	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// legacyDataDir is serve's data directory before it became the CLI's:
// relative to the working directory.
const legacyDataDir = "firebreak-data"

// defaultDataDir is the data directory every verb uses unless told
// otherwise (--data-dir, FIREBREAK_DATA_DIR, data_dir in serve's config
// file): kev.DataDir's ($FIREBREAK_DATA_DIR, else $XDG_DATA_HOME/firebreak,
// else ~/.local/share/firebreak), where `kev update` stores the catalog,
// so serve, assess and blast read the same one. A store already in
// ./firebreak-data (serve's default before) is still used, and note says
// so. getenv is os.Getenv outside tests.
func defaultDataDir(getenv func(string) string) (dir, note string) {
	if getenv("FIREBREAK_DATA_DIR") == "" {
		if _, err := os.Stat(filepath.Join(legacyDataDir, sqlite.FileName)); err == nil {
			d, _ := kev.DataDir(getenv)
			return legacyDataDir, "using the store in ./" + legacyDataDir + " (the default before); the default data directory is now " + d +
				" (where `firebreak kev update` stores the catalog): move it there or pass --data-dir " + legacyDataDir + " to keep it"
		}
	}
	d, err := kev.DataDir(getenv)
	if err != nil {
		return legacyDataDir, "no home directory (" + err.Error() + "): using ./" + legacyDataDir
	}
	return d, ""
}

// dataDirDefault is defaultDataDir's directory, for a flag's default.
func dataDirDefault() string {
	d, _ := defaultDataDir(os.Getenv)
	return d
}
