package worker

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// fingerprint summarises the names, sizes and modification times of every
// file under paths, so a change is noticed without re-reading them.
func fingerprint(paths []string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%d\x00%d\n", path, fi.Size(), fi.ModTime().UnixNano())
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("scanning estate source %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// loadEstates loads one or more estate sources; several are merged in order.
func loadEstates(paths []string) (*estate.Estate, error) {
	if len(paths) == 1 {
		return estate.Load(paths[0])
	}
	var out *estate.Estate
	for _, p := range paths {
		e, err := estate.Load(p)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = e
			continue
		}
		mergeEstate(out, e)
	}
	if out == nil {
		return nil, fmt.Errorf("no estate sources")
	}
	if err := estate.Validate(out); err != nil {
		return nil, err
	}
	return out, nil
}

func mergeEstate(dst, src *estate.Estate) {
	dst.Tenants = append(dst.Tenants, src.Tenants...)
	dst.Identities = append(dst.Identities, src.Identities...)
	dst.Groups = append(dst.Groups, src.Groups...)
	dst.Tools = append(dst.Tools, src.Tools...)
	dst.Grants = append(dst.Grants, src.Grants...)
	dst.Assets = append(dst.Assets, src.Assets...)
	dst.Backups = append(dst.Backups, src.Backups...)
	dst.IRPlans = append(dst.IRPlans, src.IRPlans...)
	dst.Contracts = append(dst.Contracts, src.Contracts...)
	dst.Vendors = append(dst.Vendors, src.Vendors...)
	dst.Attestations = append(dst.Attestations, src.Attestations...)
	dst.Exceptions = append(dst.Exceptions, src.Exceptions...)
	dst.DomainChecks = append(dst.DomainChecks, src.DomainChecks...)
	dst.Exposures = append(dst.Exposures, src.Exposures...)
	dst.Sources = append(dst.Sources, src.Sources...)
	dst.CollectionGap = append(dst.CollectionGap, src.CollectionGap...)
}

func joinPaths(ps []string) string { return strings.Join(ps, string(os.PathListSeparator)) }
