package main

import (
	"errors"

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
