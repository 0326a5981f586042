#!/usr/bin/env bash
# Builds the OpenTelemetry Collector described by otelcol/builder-config.yaml with the
# OpenTelemetry Collector Builder (Go modules from the Go module proxy) and prints the binary path.
# The build lives outside the repository, keyed by a hash of the manifest and the builder version,
# and is reused when present:
#   ${AGENTOPS_OTELCOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentops-otel/otelcol}/<hash>/otelcol-agentops
# Progress goes to stderr; stdout is only the binary path. With --cached it never builds: it prints
# the cached build's path, or exits 3 when there is none.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILDER_VERSION=v0.161.0
MANIFEST=otelcol/builder-config.yaml
CACHE_ROOT="${AGENTOPS_OTELCOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentops-otel/otelcol}"
KEY="$( (cat "$MANIFEST"; echo "builder $BUILDER_VERSION") | sha256sum | cut -c1-16)"
OUT="$CACHE_ROOT/$KEY"
BIN="$OUT/otelcol-agentops"

if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi
if [ "${1:-}" = --cached ]; then
  echo "no cached build at $BIN" >&2
  exit 3
fi

command -v go >/dev/null 2>&1 || { echo "go is not installed: cannot build the collector" >&2; exit 1; }

# The builder itself is cached next to the builds, so no global GOBIN is touched.
TOOLS="$CACHE_ROOT/tools/$BUILDER_VERSION"
if [ ! -x "$TOOLS/builder" ]; then
  echo "installing go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" >&2
  GOBIN="$TOOLS" go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" >&2
fi

# Build in a scratch directory and move it into place, so an interrupted build is never reused.
mkdir -p "$CACHE_ROOT"
WORK="$(mktemp -d "$CACHE_ROOT/build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
echo "building the collector in $WORK (several minutes on a small machine)" >&2
"$TOOLS/builder" --config="$MANIFEST" --output-path="$WORK" >&2
mkdir -p "$OUT"
mv "$WORK/otelcol-agentops" "$BIN.tmp.$$"
mv -f "$BIN.tmp.$$" "$BIN"  # atomic: a concurrent build or reader never sees half a binary
echo "$BIN"
