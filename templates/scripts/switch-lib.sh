# shellcheck shell=bash
# The steps of nginx-switch.sh, in the order it runs them, and the state they share.
need NGINX_PREFIX NGINX_CONF CONFIG_ID SWITCH_MODE LIVE_COLOR VERIFY_URL INTERNAL_URL SMOKE_PATHS \
    VERIFY_TIMEOUT_SECONDS HEALTH_INTERVAL_MS BASE_DIR
# optional: TLS_CERTIFICATE TLS_KEY VERIFY_TLS_PORT HTTPS_REDIRECT NGINX_UNIT_TEXT NGINX_WORKER_USER HOST_HEADER

# Paths under the prefix.
conf_dir="$NGINX_PREFIX/conf"
conf="$conf_dir/nginx.conf"
previous="$conf_dir/nginx.conf.previous"
candidate="$conf_dir/nginx.conf.candidate.$$"
live_file="$conf_dir/live-color"
control_token_file="$conf_dir/control-token"
maintenance_file="$conf_dir/maintenance"
canary_file="$conf_dir/canary"         # "green 10" (that share of clients on green) or off
canary_key_file="$conf_dir/canary-key" # what nginx hashes a client's id with to place it
maintenance_page="$NGINX_PREFIX/maintenance/index.html" # what nginx answers in maintenance (nginx.conf.hbs)
last_switch_file="$NGINX_PREFIX/last-switch"

# Maintenance, on or off: as the last switch left it (acme/renew); a switch sets what it wants.
maintenance=$(cat "$maintenance_file" 2>/dev/null || echo off)
canary=$(cat "$canary_file" 2>/dev/null || echo off)

# State, set as the switch goes; restore reads it to know what to put back.
body=""                 # scratch files for curl (prepare_prefix)
headers=""
new_control_token=false # a control token was just made: a running nginx learns it only by reloading
previous_live=""        # the colour nginx served before (observe_served), "" when none
previous_maintenance="" # whether it was in maintenance (on, off), "" when not running
previous_canary=""      # its canary ("green 10", off), "" when not running
expected_colour=""      # the colour verify_path expects to answer (verify_side)
served_id=""            # the config id nginx served before
config_changed=false    # apply_config wrote a new config and started or reloaded nginx
had_previous=false      # there was a config file before, kept as $previous
previous_id=""          # its config id
retiring_workers=""     # the workers a reload asked to stop
error_log_mark=0        # the error log's size before the last start or reload
nginx_action=unchanged  # what nginx was made to do: started, reloaded or live-set

# write_atomic FILE TEXT [FILE TEXT]...: every FILE.new first, then each renamed into place, so
# that nginx never reads half a file.
write_atomic() {
    local -a pairs=("$@")
    local i
    for ((i = 0; i < ${#pairs[@]}; i += 2)); do printf '%s\n' "${pairs[i + 1]}" >"${pairs[i]}.new"; done
    for ((i = 0; i < ${#pairs[@]}; i += 2)); do mv -f "${pairs[i]}.new" "${pairs[i]}"; done
}

# worker_pids MASTER: the master's worker processes (from /proc: no procps needed).
worker_pids() {
    local stat pid
    for stat in /proc/[0-9]*/stat; do
        pid=${stat#/proc/}; pid=${pid%/stat}
        [ "$(awk '{print $4}' "$stat" 2>/dev/null)" = "$1" ] &&
            grep -q 'worker process' "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
    done
    return 0
}

# wait_retired PID...: a reload starts new workers, then asks the old ones to stop; until they
# close their listening sockets, a new connection may still reach the old config. Waits until
# each old worker has exited or says it is shutting down (its title changes right before it
# stops accepting), so that verification never reads the previous config.
wait_retired() {
    local deadline=$(( $(now_ms) + VERIFY_TIMEOUT_SECONDS * 1000 )) pid busy
    while :; do
        busy=""
        for pid in "$@"; do
            grep -q 'shutting down' "/proc/$pid/cmdline" 2>/dev/null || [ ! -d "/proc/$pid" ] || busy="$busy $pid"
        done
        [ -n "$busy" ] || return 0
        if [ "$(now_ms)" -ge "$deadline" ]; then
            log "old nginx workers still accepting after ${VERIFY_TIMEOUT_SECONDS}s:$busy" >&2
            return 1
        fi
        sleep_ms 5
    done
}

# shellcheck disable=SC2154 # nginx_unit: set by nginx-lib.sh, in front of this file at run time
start_or_reload() {
    local pid
    error_log_mark=$(stat -c %s "$NGINX_PREFIX/logs/error.log" 2>/dev/null || echo 0)
    if pid=$(master_pid); then
        log "Reloading nginx (master pid $pid)"
        retiring_workers=$(worker_pids "$pid" | tr '\n' ' ')
        nginx_action=reloaded
        run_nginx -c "$conf" -s reload
    else
        nginx_action=started
        if use_systemd; then
            # Started through its unit, enabled: it comes back at boot with the last config.
            log "Starting nginx with prefix $NGINX_PREFIX (systemd unit $nginx_unit)"
            install_unit "$nginx_unit" "$NGINX_UNIT_TEXT"
            unit_as_root start "$nginx_unit"
        else
            log "Starting nginx with prefix $NGINX_PREFIX"
            run_nginx -c "$conf"
        fi
    fi
}

# new_emergency: the first [emerg] line nginx logged since the last start_or_reload (a reload
# that cannot bind its ports, for example, keeps the old config and says so only there).
new_emergency() {
    tail -c +$((error_log_mark + 1)) "$NGINX_PREFIX/logs/error.log" 2>/dev/null | grep -m 1 '\[emerg\]' || true
}

# wait_config_id ID: polls the internal listener until nginx serves config ID. When nginx logs
# an [emerg] for the reload, it may still be retrying (a bind() is tried 5 times, 500 ms apart):
# the reload has failed for good once the error log has been quiet for a second.
wait_config_id() {
    local deadline=$(( $(now_ms) + VERIFY_TIMEOUT_SECONDS * 1000 )) status emergency size quiet_since=0 last_size=-1
    while :; do
        emergency=$(new_emergency)
        if [ -n "$emergency" ]; then
            size=$(stat -c %s "$NGINX_PREFIX/logs/error.log" 2>/dev/null || echo 0)
            if [ "$size" != "$last_size" ]; then
                last_size=$size
                quiet_since=$(now_ms)
            elif [ $(( $(now_ms) - quiet_since )) -ge 1000 ]; then
                log "nginx refused config $1: $emergency" >&2
                return 1
            fi
        fi
        status=$(fetch "$INTERNAL_URL/bluegreen/config-id" "$body")
        if [ "$status" = 200 ] && [ "$(cat "$body")" = "$1" ]; then
            # shellcheck disable=SC2086 # a list of pids
            wait_retired $retiring_workers
            return
        fi
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep_ms "$HEALTH_INTERVAL_MS"
    done
}

config_problem() {
    local emergency log_tail
    emergency=$(new_emergency)
    if [ -n "$emergency" ]; then
        echo "nginx refused config $1 and kept serving the previous one: $emergency"
    else
        log_tail=$(tail -n 3 "$NGINX_PREFIX/logs/error.log" 2>/dev/null | tr '\n' ' ')
        echo "nginx did not start serving config $1 within ${VERIFY_TIMEOUT_SECONDS}s" \
            "(see $NGINX_PREFIX/logs/error.log: $log_tail)"
    fi
}

# post_control NAME VALUE HELD NEXT: asks nginx to set NAME (live, maintenance) to VALUE, proving
# HELD and handing it NEXT. The tokens reach curl on its standard input, never its command line
# (any local user reads those).
post_control() {
    fetch "$INTERNAL_URL/bluegreen/$1" "$body" -X POST --data-binary "$2" -H @- \
        <<<"X-Bluegreen-Token: $3"$'\n'"X-Bluegreen-Next-Token: $4"
}

# set_live COLOR, set_maintenance on|off, set_canary "COLOR PERCENT"|off (no-reload mode): see set_control.
set_live() { set_control live "$1" "$live_file"; }
set_maintenance() { set_control maintenance "$1" "$maintenance_file"; }
set_canary() { set_control canary "$1" "$canary_file"; }

# canary_running: this switch leaves a share of clients on the other colour.
canary_running() { [ "$canary" != off ] && [ "${canary% *}" != "$LIVE_COLOR" ]; }

# set_control NAME VALUE FILE (no-reload mode): persist VALUE in FILE (read when nginx starts or
# reloads), then set it in shared memory for every worker. nginx takes each token once, with its
# successor; the successor waits in control-token.next until nginx has it, so a switch that dies
# in between leaves both for the next one to try.
set_control() {
    write_atomic "$3" "$2"
    local status token next pending="$control_token_file.next" deadline
    local -a held=("$(<"$control_token_file")")
    [ ! -s "$pending" ] || held+=("$(<"$pending")")
    next=$(random_hex 24)
    (umask 077 && printf '%s\n' "$next" >"$pending")
    for token in "${held[@]}"; do
        status=$(post_control "$1" "$2" "$token" "$next")
        [ "$status" = 403 ] || break
    done
    if [ "$status" = 403 ]; then
        # Someone else used the token (by hand, with a copy): a reload makes nginx read
        # conf/control-token again, and VALUE from FILE, which holds it already.
        log "nginx refused this host's control token (used by someone else since the last switch?):" \
            "reloading nginx so that it reads conf/control-token again" >&2
        run_nginx -c "$conf" -s reload || log "nginx -s reload failed (see $NGINX_PREFIX/logs/error.log)" >&2
        deadline=$(( $(now_ms) + VERIFY_TIMEOUT_SECONDS * 1000 ))
        while status=$(post_control "$1" "$2" "${held[0]}" "$next") && [ "$status" = 403 ] &&
            [ "$(now_ms)" -lt "$deadline" ]; do
            sleep_ms "$HEALTH_INTERVAL_MS"
        done
    fi
    if ! { [ "$status" = 200 ] && [ "$(cat "$body")" = "$2" ]; }; then
        echo "setting $1 to $2 through $INTERNAL_URL/bluegreen/$1 answered $status $(one_line "$body")"
        return 1
    fi
    mv -f "$pending" "$control_token_file"
}

# verify: the public listener serves LIVE_COLOR; during a canary, to a client of each side as nginx's
# own draw places them (/bluegreen/canary-client), the canary colour to one of its share.
verify() {
    local listener=${VERIFY_URL#*://} name side
    listener=${listener%:*}
    name=${HOST_HEADER:-$listener}
    if [ "$maintenance" = on ]; then
        verify_maintenance
        return
    fi
    if ! canary_running; then
        verify_side "$LIVE_COLOR" ""
        return
    fi
    for side in live canary; do
        # At 100% no client stays on the live colour.
        [ "$side" = canary ] || [ "${canary#* }" -lt 100 ] || continue
        if [ "$(fetch "$INTERNAL_URL/bluegreen/canary-client?side=$side" "$body")" != 200 ]; then
            echo "nginx named no client of the $side side of the canary ($canary): $(one_line "$body")"
            return 1
        fi
        if [ "$side" = live ]; then
            verify_side "$LIVE_COLOR" "$(cat "$body")" || return 1
        else
            verify_side "${canary% *}" "$(cat "$body")" || return 1
        fi
    done
}

# verify_side COLOR CLIENT (verify's, with listener and name): COLOR answers, health first, then every
# smoke path, asked for the Host clients use (the gate's), with the bluegreen_client cookie CLIENT ("":
# none). With TLS, /health over HTTPS too, with that name as SNI (the chain is not checked, --insecure:
# this asks nginx on its own host what it serves, not who signed it). With the HTTPS redirect, plain
# HTTP must answer 308 and every path goes over HTTPS.
verify_side() {
    local path status via=""
    local -a client=()
    expected_colour=$1
    if [ -n "$2" ]; then
        client=(--cookie "bluegreen_client=$2")
        via=" (a client of $1's share)"
    fi
    # (Empty arrays expanded as ${a[@]+"${a[@]}"}: older bash calls "${a[@]}" unset under set -u.)
    local -a https=("https://$name:${VERIFY_TLS_PORT:-}" " over HTTPS$via" --insecure
        --resolve "$name:${VERIFY_TLS_PORT:-}:$listener" ${client[@]+"${client[@]}"})
    if [ "${HTTPS_REDIRECT:-}" = true ]; then
        status=$(fetch "$VERIFY_URL/health" "$body" --dump-header "$headers" \
            ${HOST_HEADER:+--header "Host: $HOST_HEADER"})
        if [ "$status" != 308 ] || ! grep -qi "^location: https://$name" "$headers"; then
            echo "GET /health over plain HTTP answered $status, expected 308 to https://$name:" \
                "$(tr -d '\r' <"$headers" | grep -i '^location:' || true)"
            return 1
        fi
        log "  verified GET /health over HTTP: 308 to HTTPS" >&2
        for path in /health $SMOKE_PATHS; do verify_path "$path" "${https[@]}" || return 1; done
        return 0
    fi
    for path in /health $SMOKE_PATHS; do
        verify_path "$path" "$VERIFY_URL" "$via" ${HOST_HEADER:+--header "Host: $HOST_HEADER"} \
            ${client[@]+"${client[@]}"} || return 1
    done
    [ -z "${VERIFY_TLS_PORT:-}" ] || verify_path /health "${https[@]}"
}

# verify_maintenance: nginx serves LIVE_COLOR (internal listener) and the public listener answers
# the maintenance page, 503 with Retry-After, for the name clients use (and JSON to who asks). /health
# is not asked: it says whether the live pool is ready, which maintenance leaves to the pool.
verify_maintenance() {
    local path=${SMOKE_PATHS%% *} status accept
    local -a public=("$VERIFY_URL" ${HOST_HEADER:+--header "Host: $HOST_HEADER"})
    if [ "${HTTPS_REDIRECT:-}" = true ]; then
        public=("https://$name:$VERIFY_TLS_PORT" --insecure --resolve "$name:$VERIFY_TLS_PORT:$listener")
    fi
    status=$(fetch "$INTERNAL_URL/bluegreen/live" "$body")
    if [ "$status" != 200 ] || [ "$(cat "$body")" != "$LIVE_COLOR" ]; then
        echo "the internal listener says the live colour is '$(one_line "$body")' ($status), expected $LIVE_COLOR"
        return 1
    fi
    for accept in text/html application/json; do
        status=$(fetch "${public[0]}$path" "$body" --dump-header "$headers" --header "Accept: $accept" \
            "${public[@]:1}")
        if [ "$status" != 503 ] || ! grep -qi '^retry-after:' "$headers" ||
            { [ "$accept" = application/json ] && ! grep -q '"status":"maintenance"' "$body"; }; then
            echo "GET $path (Accept: $accept) through the public listener answered $status, expected the" \
                "maintenance answer (503 with Retry-After): $(one_line "$body")"
            return 1
        fi
        log "  verified GET $path (Accept: $accept): 503 maintenance" >&2
    done
}

# verify_path PATH BASE VIA [curl args...]: BASE+PATH answers 2xx from expected_colour. /health is polled
# until then: the first check may race the switch by a moment (a reload starts new workers).
verify_path() {
    local path=$1 base=$2 via=$3 status color deadline
    shift 3
    deadline=$(( $(now_ms) + VERIFY_TIMEOUT_SECONDS * 1000 ))
    while :; do
        status=$(fetch "$base$path" "$body" --dump-header "$headers" "$@")
        color=$(grep -i '^x-deploy-color:' "$headers" | tr -d '\r' | awk '{print $2}' | tail -n 1)
        if [ "$path" = /health ] && [ "$color" != "$expected_colour" ] && [ "$(now_ms)" -lt "$deadline" ]; then
            sleep_ms "$HEALTH_INTERVAL_MS"
            continue
        fi
        break
    done
    if [ "${status:0:1}" != 2 ] || [ "$color" != "$expected_colour" ]; then
        echo "GET $path through the public listener$via answered $status from '${color:-no colour}'," \
            "expected 2xx from $expected_colour: $(one_line "$body")"
        return 1
    fi
    log "  verified GET $path$via: $status from $color" >&2
}

# restore WHY: put back the previous config, then the previous colour and maintenance, and fail
# with WHY.
restore() {
    local why=$1 pid colour_note="" canary_note=""
    if [ "$config_changed" = true ] && [ "$had_previous" = true ]; then
        mv -f "$previous" "$conf"
        # What nginx reads at the reload below: the colour and maintenance it served before.
        [ "$SWITCH_MODE" != no-reload ] || [ -z "$previous_live" ] || write_atomic "$live_file" "$previous_live"
        [ "$SWITCH_MODE" != no-reload ] || [ -z "$previous_maintenance" ] ||
            write_atomic "$maintenance_file" "$previous_maintenance"
        [ "$SWITCH_MODE" != no-reload ] || [ -z "$previous_canary" ] || write_atomic "$canary_file" "$previous_canary"
        # When nginx refused the new config it never stopped serving the previous one: putting
        # the file back is enough, and a reload would only close idle client connections.
        if [ -n "$(new_emergency)" ] && [ "$(fetch "$INTERNAL_URL/bluegreen/config-id" "$body")" = 200 ] &&
            [ "$(cat "$body")" = "$previous_id" ]; then
            log "nginx still serves the previous config $previous_id: no reload needed" >&2
            retiring_workers="" # its workers are the ones serving: none retires
        else
            start_or_reload || true
        fi
        if ! { [ -n "$previous_id" ] && wait_config_id "$previous_id"; }; then
            fail "$why. Restored the previous nginx config file, but nginx did not confirm serving it:" \
                "check $NGINX_PREFIX/logs/error.log"
        fi
    elif [ "$config_changed" = true ]; then
        # First start: there is nothing to go back to, so stop nginx rather than serve a broken config.
        if use_systemd; then
            unit_as_root stop "$nginx_unit" || true
        elif pid=$(master_pid); then
            run_nginx -c "$conf" -s quit || true
        fi
        rm -f "$conf" "$live_file"
        fail "$why. nginx was not serving before, so it was stopped again."
    fi
    # As the switch does, backwards: maintenance goes on before the colour changes and off after it,
    # so no request reaches a pool in between; the canary is put back while it is inert (a canary of
    # the live colour), then the colour.
    if [ "$previous_maintenance" = on ]; then
        restore_maintenance
        restore_canary
        restore_colour
    else
        restore_canary
        restore_colour
        restore_maintenance
    fi
    [ -z "$previous_maintenance" ] || write_atomic "$maintenance_file" "$previous_maintenance"
    [ -z "$previous_canary" ] || write_atomic "$canary_file" "$previous_canary"
    if [ "$config_changed" = true ]; then
        fail "$why. Restored the previous nginx config ($previous_id)$colour_note;" \
            "traffic stays where it was${previous_live:+ ($previous_live)}."
    fi
    fail "$why. Restored the previous live colour${previous_live:+ ($previous_live)}$canary_note; the nginx config" \
        "was not changed."
}

# restore_maintenance, restore_canary, restore_colour (no-reload mode; restore's steps, with why,
# colour_note, canary_note): maintenance, the canary and the live colour as nginx served them before the switch.
restore_maintenance() {
    if [ "$SWITCH_MODE" = no-reload ] && [ -n "$previous_maintenance" ] &&
        [ "$(fetch "$INTERNAL_URL/bluegreen/maintenance" "$body")" = 200 ] &&
        [ "$(cat "$body")" != "$previous_maintenance" ]; then
        set_maintenance "$previous_maintenance" >/dev/null ||
            fail "$why. Putting maintenance back $previous_maintenance failed too. Check" \
                "$INTERNAL_URL/bluegreen/maintenance and run pulumi up again."
        colour_note="$colour_note (maintenance $previous_maintenance again)"
    fi
}
restore_canary() {
    if [ "$SWITCH_MODE" = no-reload ] && [ -n "$previous_canary" ] &&
        [ "$(fetch "$INTERNAL_URL/bluegreen/canary" "$body")" = 200 ] &&
        [ "$(cat "$body")" != "$previous_canary" ]; then
        set_canary "$previous_canary" >/dev/null ||
            fail "$why. Putting the canary back ($previous_canary) failed too. Check" \
                "$INTERNAL_URL/bluegreen/canary and run pulumi up again."
        canary_note=" and the canary as it was ($previous_canary)"
        colour_note="$colour_note$canary_note"
    fi
}
restore_colour() {
    if [ "$SWITCH_MODE" = no-reload ] && [ -n "$previous_live" ] && [ "$previous_live" != "$LIVE_COLOR" ]; then
        if set_live "$previous_live" >/dev/null; then
            colour_note="$colour_note and the previous live colour ($previous_live)"
        else
            fail "$why. Putting the previous live colour ($previous_live) back failed too: nginx may still serve" \
                "$LIVE_COLOR. Check $INTERNAL_URL/bluegreen/live and run pulumi up again."
        fi
    fi
}

# await_confirmation LAST_SWITCH_BEFORE RETIRED...: one of several routers (confirm-lib.sh), switched
# and recorded: it waits for its confirmation in a watchdog of its own, which outlives this script
# (it holds none of its files, locks or output) and, unconfirmed after CONFIRM_SECONDS (or woken by
# a later switch), puts back what nginx served before, the records with it, as a failed switch would.
# shellcheck disable=SC2154 # unconfirmed, expired, unconfirmed_pid: confirm-lib.sh's, in front of this file
await_confirmation() {
    local last_switch_before=$1 sleeper
    shift
    printf '%s\n%s\n' "switched to $LIVE_COLOR (config $CONFIG_ID) at $(date -u +%H:%M:%SZ)" \
        "$*" >"$unconfirmed"
    (
        exec </dev/null >>"$NGINX_PREFIX/logs/confirm.log" 2>&1 9>&-
        trap 'kill "$sleeper" 2>/dev/null || true' USR1 TERM
        sleep "$CONFIRM_SECONDS" &
        sleeper=$!
        wait "$sleeper" || true
        mv -f "$unconfirmed" "$expired" 2>/dev/null || exit 0
        echo "not confirmed within $CONFIRM_SECONDS s, it went back to ${previous_live:-nothing}" \
            "at $(date -u +%H:%M:%SZ)" >>"$expired"
        log "$(date -u +%H:%M:%SZ) ${ROUTER_NAME:-this router} was not confirmed within $CONFIRM_SECONDS s:" \
            "going back to ${previous_live:-nothing}"
        body=$(mktemp)
        headers=$(mktemp)
        trap 'rm -f "$body" "$headers"' EXIT
        [ -z "$previous_live" ] || write_atomic "$live_file" "$previous_live"
        if [ -n "$last_switch_before" ]; then
            printf '%s\n' "$last_switch_before" >"$last_switch_file"
        else
            rm -f "$last_switch_file"
        fi
        restore "${ROUTER_NAME:-this router} was not confirmed within $CONFIRM_SECONDS s"
    ) &
    echo $! >"$unconfirmed_pid"
    log "Waiting for the other routers: unconfirmed after $CONFIRM_SECONDS s, ${ROUTER_NAME:-this router}" \
        "goes back to ${previous_live:-nothing} on its own"
}

# prepare_prefix: the prefix's directories, and scratch files removed on exit. Before anything
# changes: nginx about to start under its unit, as this login, must be able to write the prefix.
prepare_prefix() {
    local foreign
    if use_systemd && [ "$(id -u)" != 0 ] && ! master_pid >/dev/null; then
        foreign=$(foreign_in_prefix)
        [ -z "$foreign" ] || fail "nginx's unit runs nginx as $(id -un) now, who cannot write $foreign (left from" \
            "when nginx ran as root). Fix, on the nginx host: sudo chown -R $(id -un): $NGINX_PREFIX; then pulumi up"
    fi
    # A master that runs as root runs its workers (which face clients) as NGINX_WORKER_USER, the
    # config's `user`: they pass through the prefix and write temp/ (nginx makes its temp dirs
    # theirs); conf/ (the control token) and logs/ stay the master's alone.
    if dedicated "${NGINX_WORKER_USER:-}"; then system_user "$NGINX_WORKER_USER"; fi
    stack_dir "$BASE_DIR" "$NGINX_PREFIX" "${NGINX_WORKER_USER:-}"
    mkdir -p "$conf_dir" "$NGINX_PREFIX/logs" "$NGINX_PREFIX/temp"
    # Only what is this login's (an earlier unit may have left root's files: see above).
    find "$conf_dir" "$NGINX_PREFIX/logs" "$NGINX_PREFIX/temp" -maxdepth 0 -user "$(id -u)" -exec chmod 700 {} +
    find "$NGINX_PREFIX/logs" -maxdepth 1 -type f -user "$(id -u)" -exec chmod o-rwx {} +
    if dedicated "${NGINX_WORKER_USER:-}"; then
        chgrp "$NGINX_WORKER_USER" "$NGINX_PREFIX/temp"
        chmod 750 "$NGINX_PREFIX/temp"
        foreign=$(unreachable_by "$NGINX_WORKER_USER" "$NGINX_PREFIX/temp")
        [ -z "$foreign" ] || fail "nginx's workers run as $NGINX_WORKER_USER (its master runs as root), which" \
            "cannot enter $foreign on the way to $NGINX_PREFIX/temp; nothing was changed. Fix: chmod o+x" \
            "$foreign (others may then pass through it, not list it), or put the stack's directory" \
            "(stateDir, remoteDir) where $NGINX_WORKER_USER can reach it"
    fi
    body=$(mktemp)
    headers=$(mktemp)
    trap 'rm -f "$body" "$headers" "$candidate"' EXIT
}

# prepare_no_reload: the Lua module where the config loads it from, and the control token.
# shellcheck disable=SC2154 # nginx_bin: set by nginx-lib.sh, in front of this file at run time
prepare_no_reload() {
    local modules_dir
    modules_dir=$(lua_modules_dir "$nginx_bin")
    ln -sfn "$modules_dir" "$NGINX_PREFIX/modules"
    # The token that lets this script (and only what can read this file) change the live
    # colour; nginx reads it when it starts or reloads, and each colour change replaces it.
    if [ ! -s "$control_token_file" ]; then
        (umask 077 && random_hex 24 >"$control_token_file")
        new_control_token=true
    fi
    # Kept for good: a new key would move clients of a running canary between pools.
    [ -s "$canary_key_file" ] || (umask 077 && random_hex 24 >"$canary_key_file")
}

# observe_served: what nginx serves now (asked, not assumed), to record switches and to go back
# to on failure.
observe_served() {
    if master_pid >/dev/null; then
        [ "$(fetch "$INTERNAL_URL/bluegreen/live" "$body")" = 200 ] && previous_live=$(cat "$body")
        [ "$(fetch "$INTERNAL_URL/bluegreen/config-id" "$body")" = 200 ] && served_id=$(cat "$body")
        # A config from before maintenance existed has no such endpoint: it was off.
        previous_maintenance=off
        [ "$(fetch "$INTERNAL_URL/bluegreen/maintenance" "$body")" = 200 ] && previous_maintenance=$(cat "$body")
        # A config from before canaries has no such endpoint (404): none ran. Unread: unknown (""),
        # which restore leaves alone.
        case $(fetch "$INTERNAL_URL/bluegreen/canary" "$body") in
            200) previous_canary=$(cat "$body") ;;
            404) previous_canary=off ;;
        esac
    fi
    case "$previous_live" in blue | green) ;; *) previous_live="" ;; esac
    case "$previous_maintenance" in on | off | "") ;; *) previous_maintenance=off ;; esac
    case "$previous_canary" in "blue "[0-9]* | "green "[0-9]* | off | "") ;; *) previous_canary=off ;; esac
}

# write_tls: the certificate and key (secrets) beside the config, readable only here; the
# running nginx reads them at its next reload, which a new certificate causes (its fingerprint
# is part of the config).
write_tls() {
    if [ -n "${TLS_CERTIFICATE:-}" ]; then
        mkdir -p "$conf_dir/tls"
        (
            umask 077
            write_atomic "$conf_dir/tls/certificate.pem" "$TLS_CERTIFICATE" "$conf_dir/tls/key.pem" "$TLS_KEY"
        )
    fi
}

# apply_config: when the config differs from the running one (or nginx is not running), test
# it, rename it into place, reload or start nginx, and wait until nginx serves it.
apply_config() {
    local test_output verb
    printf '%s\n' "$NGINX_CONF" >"$candidate"
    if ! cmp -s "$candidate" "$conf" || [ "$served_id" != "$CONFIG_ID" ] || [ "$new_control_token" = true ]; then
        config_changed=true
        # nginx -t opens the listeners it tests where nothing holds them: with nginx down, it would
        # listen for a moment, then reset every connection that queued meanwhile. Then starting
        # nginx is the test (a start it refuses is restored like a failed reload).
        if master_pid >/dev/null && ! test_output=$(run_nginx -t -q -c "$candidate" 2>&1); then
            fail "the rendered nginx config fails 'nginx -t'; nothing was changed: $test_output"
        fi
        if [ -f "$conf" ]; then
            cp -p "$conf" "$previous"
            had_previous=true
            previous_id=$(sed -n 's/^# config-id: //p' "$previous" | head -n 1)
        fi
        # In no-reload mode nginx reads the colour from this file when it starts or reloads: the
        # gate has passed, so the new config comes up with the new colour (never a stale one, nor a
        # pool this config may no longer have).
        [ "$SWITCH_MODE" != no-reload ] ||
            write_atomic "$live_file" "$LIVE_COLOR" "$maintenance_file" "$maintenance" "$canary_file" "$canary"
        mv -f "$candidate" "$conf"
        log "Applying nginx config $CONFIG_ID"
        if ! start_or_reload; then
            if master_pid >/dev/null; then verb=reload; else verb=start; fi
            restore "nginx refused to $verb with config $CONFIG_ID (see $NGINX_PREFIX/logs/error.log)"
        fi
    fi
    if [ "$config_changed" = true ] && ! wait_config_id "$CONFIG_ID"; then
        restore "$(config_problem "$CONFIG_ID")"
    fi
}

# write_maintenance_page HTML: the page nginx answers with in maintenance, read from disk at each
# answer (a new page needs no reload). nginx's workers read it: where they run as
# NGINX_WORKER_USER, through its group.
write_maintenance_page() {
    mkdir -p "${maintenance_page%/*}"
    if dedicated "${NGINX_WORKER_USER:-}"; then chgrp "$NGINX_WORKER_USER" "${maintenance_page%/*}"; fi
    chmod 750 "${maintenance_page%/*}"
    if printf '%s\n' "$1" | cmp -s - "$maintenance_page"; then
        # Unchanged, but perhaps written before the workers had a user of their own.
        if dedicated "${NGINX_WORKER_USER:-}"; then chgrp "$NGINX_WORKER_USER" "$maintenance_page"; fi
        return 0
    fi
    printf '%s\n' "$1" >"$maintenance_page.new"
    # Readable by the workers before it replaces the page they may be serving.
    if dedicated "${NGINX_WORKER_USER:-}"; then chgrp "$NGINX_WORKER_USER" "$maintenance_page.new"; fi
    mv -f "$maintenance_page.new" "$maintenance_page"
}

# apply_maintenance (no-reload mode): maintenance on or off in nginx's shared memory, no reload.
apply_maintenance() { apply_control maintenance "$maintenance" "Maintenance $maintenance without a reload"; }

# apply_live_color (no-reload mode): set the colour in nginx's shared memory, no reload.
apply_live_color() { apply_control live "$LIVE_COLOR" "Switching to $LIVE_COLOR without a reload"; }

# apply_canary (no-reload mode): the canary's share in nginx's shared memory, no reload.
apply_canary() {
    if [ "$canary" = off ]; then
        apply_control canary off "Ending the canary without a reload: every client on $LIVE_COLOR"
    else
        apply_control canary "$canary" "Canary: ${canary#* }% of clients to ${canary% *} without a reload"
    fi
}

# apply_control NAME VALUE SAYING (no-reload mode): when nginx's NAME (live, maintenance) is not
# VALUE, log SAYING and set it (set_live, set_maintenance); a failure restores and fails.
apply_control() {
    local problem
    if [ "$SWITCH_MODE" = no-reload ] && [ "$(fetch "$INTERNAL_URL/bluegreen/$1" "$body")" = 200 ] &&
        [ "$(cat "$body")" != "$2" ]; then
        log "$3"
        problem=$("set_$1" "$2") || restore "$problem"
        [ "$nginx_action" != unchanged ] || nginx_action=live-set
    fi
}

# record_live: the live colour and maintenance, verified, are recorded on the host at once (what
# acme/renew and the next switch read), before any later step can fail, and when the colour changed.
record_live() {
    # Both modes keep the files current, so that a change of switch mode starts from the truth.
    write_atomic "$live_file" "$LIVE_COLOR" "$maintenance_file" "$maintenance" "$canary_file" "$canary"
    # When the live colour changed, remember when: the stack's lastSwitch output.
    if [ "$previous_live" != "$LIVE_COLOR" ] || [ ! -s "$last_switch_file" ]; then
        printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$LIVE_COLOR" >"$last_switch_file"
    fi
}

# report_switched STARTED CONFIG_DONE LIVE_DONE VERIFIED [BAKE] (times in ms; what the bake saw):
# logs the outcome (after record_live); the last line is the result Router parses (switchResult.ts).
report_switched() {
    local last_switch
    last_switch=$(cat "$last_switch_file")
    log "Switched: $LIVE_COLOR is live (config $CONFIG_ID, $SWITCH_MODE mode, maintenance $maintenance," \
        "canary $canary)"
    log "timing: config $(($2 - $1)) ms (changed: $config_changed), live colour $(($3 - $2)) ms," \
        "verify $(($4 - $3)) ms"
    log "last-switch: $last_switch"
    printf 'bluegreen-result {"lastSwitch":%s,"liveColor":%s,"configId":%s,"nginx":%s,%s}\n' \
        "$(json_string "$last_switch")" "$(json_string "$LIVE_COLOR")" "$(json_string "$CONFIG_ID")" \
        "$(json_string "$nginx_action")" "\"maintenance\":$(json_string "$maintenance"),\"canary\":$(
            json_string "$canary"),\"bake\":$(json_string "${5:-}")"
}

# json_string TEXT: TEXT as a JSON string.
json_string() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\r'/\\r}
    s=${s//$'\t'/\\t}
    printf '"%s"' "$s"
}
