# shellcheck shell=bash
# The routers' floating address on this router: writes keepalived's config (tested first), then
# starts keepalived, or has it read the new config (SIGHUP), under its systemd unit where systemd
# runs, else on its own with a pid file. keepalived adds and removes the address: it runs as root.
need BASE_DIR ROUTER_NAME KEEPALIVED_CONF VIRTUAL_ADDRESS
# optional: SUPERVISOR KEEPALIVED_UNIT_TEXT

command -v keepalived >/dev/null 2>&1 ||
    fail "keepalived is not installed on $ROUTER_NAME, and virtualIp needs it there. Install it:" \
        "apt-get install keepalived; then pulumi up"
[ "$(id -u)" = 0 ] || fail "keepalived adds and removes $VIRTUAL_ADDRESS: it must run as root on $ROUTER_NAME," \
    "whose login is $(id -un). Fix: log in to the routers as root (sshUser, or the user of nginxSshHosts)"
dir="$BASE_DIR/keepalived"
conf="$dir/keepalived.conf"
mkdir -p "$dir"
chmod 700 "$dir"
printf '%s\n' "$KEEPALIVED_CONF" >"$conf.new"
if ! problem=$(keepalived --config-test --use-file="$conf.new" 2>&1); then
    rm -f "$conf.new"
    fail "keepalived refuses the rendered config on $ROUTER_NAME; nothing was changed: $problem"
fi
changed=true
if cmp -s "$conf.new" "$conf"; then changed=false; fi
mv -f "$conf.new" "$conf"

# keepalived_pid: the running keepalived's pid, or fails.
keepalived_pid() {
    local pid
    pid=$(cat "$dir/keepalived.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && grep -q keepalived "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

unit=bluegreen-keepalived.service
if [ -n "${KEEPALIVED_UNIT_TEXT:-}" ] && [ "${SUPERVISOR:-process}" != process ] && systemd_runs; then
    if ! printf '%s\n' "$KEEPALIVED_UNIT_TEXT" | cmp -s - "/etc/systemd/system/$unit"; then
        printf '%s\n' "$KEEPALIVED_UNIT_TEXT" >"/etc/systemd/system/$unit"
        systemctl daemon-reload
    fi
    if ! systemctl is-active --quiet "$unit"; then
        systemctl enable --now "$unit"
        log "Started keepalived ($unit) on $ROUTER_NAME"
    elif [ "$changed" = true ]; then
        systemctl reload "$unit"
        log "keepalived on $ROUTER_NAME reads its new config"
    fi
elif pid=$(keepalived_pid); then
    if [ "$changed" = true ]; then
        kill -HUP "$pid"
        log "keepalived on $ROUTER_NAME (pid $pid) reads its new config"
    fi
else
    # Its own session, nothing of this script's output: it outlives the SSH login.
    setsid keepalived --dont-fork --log-console --log-detail --vrrp --use-file="$conf" \
        --pid="$dir/keepalived.pid" --vrrp_pid="$dir/vrrp.pid" </dev/null >>"$dir/keepalived.log" 2>&1 &
    deadline=$(($(now_ms) + 10000))
    until keepalived_pid >/dev/null; do
        [ "$(now_ms)" -lt "$deadline" ] || fail "keepalived did not start on $ROUTER_NAME within 10 s:" \
            "$(tail -n 5 "$dir/keepalived.log" | tr '\n' ' ')"
        sleep_ms 50
    done
    log "Started keepalived on $ROUTER_NAME (pid $(keepalived_pid))"
fi
if ip -o addr show | grep -q " ${VIRTUAL_ADDRESS}/"; then
    log "$ROUTER_NAME holds $VIRTUAL_ADDRESS now"
else
    log "$ROUTER_NAME stands by for $VIRTUAL_ADDRESS"
fi
