# shellcheck shell=bash
# Writes the drain token where the apps read it on each POST /health/drain, readable only by
# this user, or, where the app runs as a dedicated user (APP_USER: the login is root), only by
# that user (root rewrites it). Rotating the token rewrites the file; no app needs a restart.
need TOKEN_FILE DRAIN_TOKEN BASE_DIR
# optional: APP_USER
if dedicated "${APP_USER:-}"; then system_user "$APP_USER"; fi
stack_dir "$BASE_DIR" "$(dirname "$TOKEN_FILE")" "${APP_USER:-}"
umask 077
printf '%s' "$DRAIN_TOKEN" >"$TOKEN_FILE.new"
if dedicated "${APP_USER:-}"; then
    chown "$APP_USER:" "$TOKEN_FILE.new"
fi
mv -f "$TOKEN_FILE.new" "$TOKEN_FILE"
log "Wrote the drain token to $TOKEN_FILE"
