# shellcheck shell=bash
# Writes the drain token where the apps read it on each POST /health/drain, readable only by
# this user. Rotating the token rewrites the file; no app needs a restart.
need TOKEN_FILE DRAIN_TOKEN
mkdir -p "$(dirname "$TOKEN_FILE")"
umask 077
printf '%s' "$DRAIN_TOKEN" >"$TOKEN_FILE.new"
mv -f "$TOKEN_FILE.new" "$TOKEN_FILE"
log "Wrote the drain token to $TOKEN_FILE"
