#!/usr/bin/env bash
# Installs what the browser tests need, idempotently and without questions, so that a
# fresh clone (and CI, which has no standard input) gets it from `make test`:
#   - Debian's Chromium at /usr/bin/chromium (apt-get, as root), because Playwright's
#     own browser download cannot reach its host from these machines;
#   - playwright-core and axe-core, pinned by package-lock.json, into node_modules here
#     (`npm ci`, again only when the lock file changed since the last install).
# A second run finds both and returns at once.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHROMIUM="${PARLEY_CHROMIUM:-/usr/bin/chromium}"

log() { printf '[browser] %s\n' "$*" >&2; }

if [[ ! -x "$CHROMIUM" ]]; then
  if [[ "$(id -u)" != 0 ]]; then
    log "no Chromium at $CHROMIUM and not root: install Debian's chromium package (apt-get install chromium)"
    exit 1
  fi
  log "installing Debian's chromium (once)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null >/dev/null
  apt-get install -y -qq --no-install-recommends chromium </dev/null >/dev/null
fi

# node_modules is current when it was made from this very lock file: the copy npm keeps
# in node_modules/.package-lock.json is compared by content, not by timestamps (a fresh
# clone's files all have new ones).
STAMP="$HERE/node_modules/.parley-lock"
if ! cmp -s "$HERE/package-lock.json" "$STAMP" 2>/dev/null; then
  log "npm ci in tests/browser (playwright-core, axe-core)…"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error </dev/null >/dev/null)
  cp "$HERE/package-lock.json" "$STAMP"
fi
