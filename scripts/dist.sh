#!/usr/bin/env bash
# Build release artefacts into dist/: per architecture a static binary in a
# tar.gz (with LICENSE, README, CHANGELOG, the example config, the systemd
# unit, man pages and shell completions), deb and rpm packages (nfpm), a
# CycloneDX SBOM of the binary's modules, and checksums.txt (SHA-256).
#
#   scripts/dist.sh                 # version from `git describe`, amd64 and arm64
#   scripts/dist.sh --snapshot      # version 0.0.0-snapshot+<commit>, what CI runs
#   DIST_ARCHES=amd64 scripts/dist.sh --snapshot
#
# Tools (nfpm, cyclonedx-gomod) are pinned in tools/go.mod and run with
# `go tool -modfile=tools/go.mod`; nothing is downloaded but Go modules.
set -euo pipefail
cd "$(dirname "$0")/.."

snapshot=0
[ "${1:-}" = "--snapshot" ] && snapshot=1
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
date=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
if [ "$snapshot" = 1 ]; then
  version="0.0.0-snapshot+${commit:0:12}"
else
  version=$(git describe --tags --exact-match 2>/dev/null || true)
  [ -n "$version" ] || { echo "dist: HEAD has no release tag (vX.Y.Z); use --snapshot" >&2; exit 2; }
  version=${version#v}
fi
arches=${DIST_ARCHES:-amd64 arm64}
tool() { go tool -modfile=tools/go.mod "$@"; }

rm -rf dist && mkdir -p dist
pkg=github.com/firebreak-msp/firebreak/internal/version
ldflags="-s -w -X $pkg.version=$version -X $pkg.commit=$commit -X $pkg.date=$date"

# Man pages and completions come from the host binary (they do not depend on
# the target architecture).
host=dist/build/host
CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "$ldflags" -o "$host/firebreak" ./cmd/firebreak
"$host/firebreak" man -o "$host/man"
gzip -9n "$host"/man/*.1 # Debian policy 12.1 (and rpm's own brp-compress): man pages gzipped, no name or time in the header
mkdir -p "$host/completions"
for sh in bash zsh fish; do "$host/firebreak" completion "$sh" > "$host/completions/firebreak.$sh"; done
"$host/firebreak" version

for arch in $arches; do
  build=dist/build/linux_$arch
  mkdir -p "$build"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOFLAGS=-buildvcs=false go build -trimpath -ldflags "$ldflags" -o "$build/firebreak" ./cmd/firebreak
  cp -r "$host/man" "$host/completions" "$build/"
  name=firebreak_${version}_linux_$arch
  stage=dist/build/$name
  mkdir -p "$stage"
  cp "$build/firebreak" LICENSE README.md CHANGELOG.md SECURITY.md packaging/firebreak.yaml packaging/firebreak.service "$stage/"
  cp -r "$build/man" "$build/completions" "$stage/"
  # Reproducible archive: fixed order, owner and times.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$date" -C dist/build -czf "dist/$name.tar.gz" "$name"
  # nfpm expands variables in some fields only, so the paths are filled in here.
  sed -e "s#\${ARCH}#$arch#g" -e "s#\${VERSION}#$version#g" -e "s#\${BUILD}#$build#g" packaging/nfpm.yaml > "$build/nfpm.yaml"
  for packager in deb rpm; do
    tool nfpm pkg --config "$build/nfpm.yaml" --packager "$packager" --target dist/ >/dev/null
  done
done

# SBOM of the binary: the modules compiled into it (from its build
# information, the same for every architecture), with their licenses from the
# module cache. GOPROXY=off: it would otherwise look up this unpublished
# version of firebreak itself. The tool is built first, with the proxy, so a
# fresh module cache can fetch its modules.
first=${arches%% *}
go build -modfile=tools/go.mod -o dist/build/cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod
GOPROXY=off dist/build/cyclonedx-gomod bin -json -licenses -version "$version" \
  -output "dist/firebreak_${version}.sbom.cdx.json" "dist/build/linux_$first/firebreak" 2>dist/build/sbom.log \
  || { cat dist/build/sbom.log >&2; exit 1; }

(cd dist && sha256sum ./*.tar.gz ./*.deb ./*.rpm ./*.sbom.cdx.json | sed 's# \./# #' > checksums.txt)
rm -rf dist/build
echo "dist: $version"
ls -l dist
