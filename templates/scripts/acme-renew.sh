# shellcheck shell=bash disable=SC2154 # tls_*, acme_*, live_file: the libraries', in front at run time
# acme/renew on the nginx host: renews the ACME certificate when it is due, as the switch would.
# Each switch writes it with its own environment (acme/renew.env); the host's timer runs it, and
# an operator may. The certificate in use stays until a new one is served; exit status 1 and a
# message when the CA gave none or nginx would not serve it. Steps: acme-lib.sh.
need ACME_DIRECTORY_URL ACME_EMAIL ACME_RENEW_DAYS ACME_TIMEOUT_SECONDS HOST_NAMES VERIFY_TLS_PORT

body=$(mktemp)
headers=$(mktemp)
trap 'rm -f "$body" "$headers"' EXIT
acme_lock
master_pid >/dev/null || fail "nginx is not running (prefix $NGINX_PREFIX): pulumi up starts it"
# What nginx serves must be what the last switch applied: renewal reloads that config, nothing else.
served=""
[ "$(fetch "$INTERNAL_URL/bluegreen/config-id" "$body")" = 200 ] && served=$(cat "$body")
[ "$served" = "$CONFIG_ID" ] || fail "nginx serves config '${served:-none}', not $CONFIG_ID from the last" \
    "switch: run pulumi up first (it renews too)."
# The colour live now, as the switch recorded it (its verification asks for that colour).
# shellcheck disable=SC2034 # switch-lib.sh's verify reads it
LIVE_COLOR=$(cat "$live_file")
if ! why=$(certificate_due); then
    log "Certificate for $HOST_NAMES: valid until $(certificate_end "$tls_certificate"); nothing to renew."
    exit 0
fi
obtain_certificate "$why" || fail "$acme_problem. The current certificate keeps serving" \
    "(valid until $(certificate_end "$tls_certificate"))."
place_certificate
serve_certificate || fail "$acme_problem."
