# shellcheck shell=bash
# Stops this router's keepalived (virtualIp removed, or the router taken out of the stack): it gives
# the floating address up as it stops, and another router takes it within a few seconds.
need BASE_DIR ROUTER_NAME
dir="$BASE_DIR/keepalived"
unit=bluegreen-keepalived.service
if [ -f "/etc/systemd/system/$unit" ] && systemd_runs; then
    systemctl disable --now "$unit" || fail "stopping $unit on $ROUTER_NAME failed (above)"
    rm -f "/etc/systemd/system/$unit"
    systemctl daemon-reload
    log "Stopped keepalived ($unit) on $ROUTER_NAME"
elif pid=$(cat "$dir/keepalived.pid" 2>/dev/null) && grep -q keepalived "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid"
    deadline=$(($(now_ms) + 10000))
    while [ -d "/proc/$pid" ] && [ "$(now_ms)" -lt "$deadline" ]; do sleep_ms 50; done
    [ ! -d "/proc/$pid" ] || fail "keepalived (pid $pid) did not stop within 10 s on $ROUTER_NAME"
    log "Stopped keepalived on $ROUTER_NAME"
fi
rm -f "$dir/keepalived.conf"
