# Applies a rendered nginx config: write it beside the live one, `nginx -t` it, rename it into
# place (atomic), reload (or start nginx if it is not running; never restart), then verify
# through the listeners. If verification fails, the previous config is restored and reloaded,
# and the command fails, so Pulumi keeps the previous state and the change stays pending.
need NGINX_PREFIX NGINX_CONF CONFIG_ID LIVE_COLOR VERIFY_URL INTERNAL_URL SMOKE_PATHS \
    VERIFY_TIMEOUT_SECONDS HEALTH_INTERVAL_MS
nginx_bin=${NGINX_BIN:-nginx}
command -v "$nginx_bin" >/dev/null 2>&1 ||
    fail "nginx is not installed on the router host (looked for '$nginx_bin'). Install it: apt-get install nginx"

conf_dir="$NGINX_PREFIX/conf"
conf="$conf_dir/nginx.conf"
previous="$conf_dir/nginx.conf.previous"
candidate="$conf_dir/nginx.conf.candidate.$$"
pid_file="$NGINX_PREFIX/logs/nginx.pid"
mkdir -p "$conf_dir" "$NGINX_PREFIX/logs" "$NGINX_PREFIX/temp"
# nginx workers may run as another user (nobody, when the master is root): they must reach temp/.
chmod 755 "$NGINX_PREFIX" "$NGINX_PREFIX/temp"

run_nginx() { "$nginx_bin" -p "$NGINX_PREFIX/" -e "$NGINX_PREFIX/logs/error.log" "$@"; }

master_pid() {
    local pid
    pid=$(cat "$pid_file" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q 'nginx: master' "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

apply() {
    local pid
    if pid=$(master_pid); then
        log "Reloading nginx (master pid $pid)"
        run_nginx -c "$conf" -s reload
    else
        log "Starting nginx with prefix $NGINX_PREFIX"
        run_nginx -c "$conf"
    fi
}

body=$(mktemp)
headers=$(mktemp)
trap 'rm -f "$body" "$headers" "$candidate"' EXIT

# wait_config_id ID: polls the internal listener until nginx serves config ID (reload applied).
wait_config_id() {
    local deadline=$(( $(now_ms) + VERIFY_TIMEOUT_SECONDS * 1000 )) status
    while :; do
        status=$(fetch "$INTERNAL_URL/bluegreen/config-id" "$body")
        if [ "$status" = 200 ] && [ "$(cat "$body")" = "$1" ]; then return 0; fi
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep_ms "$HEALTH_INTERVAL_MS"
    done
}

# verify: the public listener serves LIVE_COLOR, health first, then every smoke path.
verify() {
    local path status color
    if ! wait_config_id "$CONFIG_ID"; then
        echo "nginx did not start serving the new config within ${VERIFY_TIMEOUT_SECONDS}s (see $NGINX_PREFIX/logs/error.log: $(tail -n 3 "$NGINX_PREFIX/logs/error.log" 2>/dev/null | tr '\n' ' '))"
        return 1
    fi
    for path in /health $SMOKE_PATHS; do
        status=$(fetch "$VERIFY_URL$path" "$body" --dump-header "$headers")
        color=$(grep -i '^x-deploy-color:' "$headers" | tr -d '\r' | awk '{print $2}' | tail -n 1)
        if [ "${status:0:1}" != 2 ] || [ "$color" != "$LIVE_COLOR" ]; then
            echo "GET $path through the public listener answered $status from '${color:-no colour}', expected 2xx from $LIVE_COLOR: $(one_line "$body")"
            return 1
        fi
        log "  verified GET $path: $status from $color"
    done
}

printf '%s\n' "$NGINX_CONF" >"$candidate"
if ! test_output=$(run_nginx -t -q -c "$candidate" 2>&1); then
    fail "the rendered nginx config fails 'nginx -t'; nothing was changed: $test_output"
fi

had_previous=false
previous_id=""
previous_live=""
if [ -f "$conf" ]; then
    previous_live=$(sed -n 's/^# Do not edit: .* Live pool: \([a-z]*\)\.$/\1/p' "$conf" | head -n 1)
    cp -p "$conf" "$previous"
    had_previous=true
    previous_id=$(sed -n 's/^# config-id: //p' "$previous" | head -n 1)
fi
mv -f "$candidate" "$conf"
log "Switching: $LIVE_COLOR goes live (config $CONFIG_ID)"
apply

if problem=$(verify); then
    # When the live colour changed, remember when: the stack's lastSwitch output.
    if [ "$previous_live" != "$LIVE_COLOR" ] || [ ! -s "$NGINX_PREFIX/last-switch" ]; then
        printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$LIVE_COLOR" >"$NGINX_PREFIX/last-switch"
    fi
    log "Switched: $LIVE_COLOR is live (config $CONFIG_ID)"
    log "last-switch: $(cat "$NGINX_PREFIX/last-switch")"
    exit 0
fi

log "Verification failed: $problem"
if [ "$had_previous" = true ]; then
    mv -f "$previous" "$conf"
    apply
    if [ -n "$previous_id" ] && wait_config_id "$previous_id"; then
        fail "$problem. Restored the previous nginx config ($previous_id); traffic stays where it was."
    fi
    fail "$problem. Restored the previous nginx config file, but nginx did not confirm serving it: check $NGINX_PREFIX/logs/error.log"
fi
# First start: there is nothing to go back to, so stop nginx rather than serve a broken config.
if pid=$(master_pid); then
    run_nginx -c "$conf" -s quit || true
fi
rm -f "$conf"
fail "$problem. nginx was not serving before, so it was stopped again."
