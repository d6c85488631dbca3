#!/usr/bin/env bash
# Writes the secrets docker compose needs into .env at the repository root, which
# compose reads by itself (and git ignores):
#
#   CREDENTIALS_KEY   Fernet key of the marketplace credentials (ingest, responder)
#   API_KEY_PEPPER    HMAC key of API key digests (gateway, CLI)
#   LINK_SIGNING_KEY  HMAC key of download links (responder signs, gateway checks)
#
# An existing .env is kept: replacing its secrets makes stored credentials unreadable
# and every API key and download link invalid. --force replaces it anyway.
# Usually run as `make compose-env`, which installs the project's uv first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
UV="${UV:-$ROOT/.cache/uv/bin/uv}"
ENV_FILE="$ROOT/.env"

if [[ -e "$ENV_FILE" && "${1:-}" != "--force" ]]; then
  echo "$ENV_FILE exists; kept (--force writes new secrets)" >&2
  exit 0
fi
if [[ ! -x "$UV" ]]; then
  echo "no $UV: run \`make compose-env\` (or \`make install\` first)" >&2
  exit 1
fi

cd "$ROOT"
credentials_key="$("$UV" run --frozen parley generate-key)"
random_secret() { "$UV" run --frozen python -c 'import secrets; print(secrets.token_urlsafe(32))'; }
api_key_pepper="$(random_secret)"
link_signing_key="$(random_secret)"

umask 077
tmp="$(mktemp "$ROOT/.env.XXXXXX")"
cat >"$tmp" <<ENV
# Secrets of the docker compose stack, written by deploy/docker/secrets.sh. Keep them:
# new ones make stored credentials unreadable and every API key invalid.
CREDENTIALS_KEY=$credentials_key
API_KEY_PEPPER=$api_key_pepper
LINK_SIGNING_KEY=$link_signing_key
ENV
mv "$tmp" "$ENV_FILE"
echo "wrote $ENV_FILE (CREDENTIALS_KEY, API_KEY_PEPPER, LINK_SIGNING_KEY)" >&2
