# shellcheck shell=bash
# Several routers switched as one. Each router's switch (nginx-switch.sh, with CONFIRM_SECONDS)
# leaves a router that switched waiting for its confirmation (nginx-confirm.sh), which the program
# sends once every router has switched. A router not confirmed in time (another router failed,
# the operator's machine went away) goes back to what it served on its own: the routers are never
# left split by a switch that did not finish. Also what both need: draining removed hosts.
need NGINX_PREFIX

# Exists while a switch waits for its confirmation: line 1 says what it did, line 2 which removed
# hosts of the pools that served it drains once confirmed. Whoever renames it first decides: the
# confirmation (.confirmed), or the watchdog going back (.expired, with why).
unconfirmed="$NGINX_PREFIX/unconfirmed"
unconfirmed_pid="$NGINX_PREFIX/unconfirmed.pid" # the watchdog, which sleeps until woken or too late
expired="$NGINX_PREFIX/unconfirmed.expired"

# confirming: this switch is one of several routers' and waits for its confirmation.
confirming() { [ -n "${CONFIRM_SECONDS:-}" ]; }

# wake_watchdog: the waiting switch's watchdog stops sleeping and decides (see above); returns
# once it has ended (bounded: going back is one reload and a verification).
wake_watchdog() {
    local pid deadline
    pid=$(cat "$unconfirmed_pid" 2>/dev/null) || return 0
    kill -USR1 "$pid" 2>/dev/null || { rm -f "$unconfirmed_pid"; return 0; }
    deadline=$(($(now_ms) + 60000))
    while [ -d "/proc/$pid" ] && [ "$(now_ms)" -lt "$deadline" ]; do sleep_ms 50; done
    rm -f "$unconfirmed_pid"
}

# expire_unconfirmed: an earlier switch of this router still waits (its update failed on another
# router and its watchdog has not gone back yet): it goes back now, so that this switch starts
# from what was last confirmed.
expire_unconfirmed() {
    if [ -f "$unconfirmed" ]; then
        log "An earlier switch of this router was never confirmed ($(head -n 1 "$unconfirmed")): it goes back first"
        wake_watchdog
    fi
    rm -f "$unconfirmed" "$expired" "$unconfirmed.confirmed"
}

# drain_retired TOKEN NAME=ADDRESS:PORT...: asks each host to drain (POST /health/drain, the
# contract's), all at once. An app that refuses is reported and left to its delete's SIGTERM.
drain_retired() {
    local token=$1 host
    shift
    for host in "$@"; do
        (
            local name=${host%%=*} address=${host#*=} status
            # The token reaches curl on its standard input, never its command line.
            status=$(fetch "http://$address/health/drain" /dev/null -X POST -H @- <<<"Authorization: Bearer $token")
            case $status in
                2??) log "Draining $name ($address), which this update removes: POST /health/drain answered $status" ;;
                *) log "warning: $name ($address), which this update removes, did not start draining (POST" \
                    "/health/drain answered $status): its delete stops it (SIGTERM); until then nginx's old" \
                    "workers may cut its sockets after worker_shutdown_timeout" ;;
            esac
        ) &
    done
    wait
}

