#!/usr/bin/env bash
# Builds the Helm CLI from its Go module (no prebuilt binary is downloaded) into
# .cache/helm/bin/helm, once: a later run finds the binary of the right version and
# returns at once. Used by `make helm` and by the chart tests' session fixture.
#
#   install-helm.sh          build if missing, print the binary's path
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${PARLEY_CACHE_DIR:-$ROOT/.cache}"
HELM_MODULE="helm.sh/helm/v4"
HELM_VERSION="${PARLEY_HELM_VERSION:-v4.3.2}"
BIN_DIR="$CACHE/helm/$HELM_VERSION/bin"
HELM="$BIN_DIR/helm"

if [[ -x "$HELM" ]]; then
  echo "$HELM"
  exit 0
fi

command -v go >/dev/null || { echo "install-helm: the Go toolchain is needed to build helm" >&2; exit 1; }
echo "[helm] building helm $HELM_VERSION with the Go toolchain (once, a few minutes)…" >&2
mkdir -p "$BIN_DIR"
# A lock so two test sessions starting at once build it once.
exec 9>"$CACHE/helm/.lock"
flock 9
if [[ ! -x "$HELM" ]]; then
  GOBIN="$BIN_DIR" GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -mod=mod" CGO_ENABLED=0 \
    go install -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "$HELM_MODULE/cmd/helm@$HELM_VERSION"
fi
echo "$HELM"
