# shellcheck shell=bash
# Stops the router's nginx gracefully (requests in flight finish within an app's shutdown bound,
# then it stops at once: worker_shutdown_timeout waits for drains that a deleted router never
# sees); runs when the router is deleted. Under systemd the unit stops it (its ExecStop is the
# same graceful quit, then systemd's kill) and is removed.
need NGINX_PREFIX SHUTDOWN_TIMEOUT_SECONDS
# shellcheck disable=SC2154 # renewal_*, nginx_unit: set by nginx-lib.sh, in front of this file at run time
for unit in "$renewal_timer" "$renewal_unit"; do
    if use_systemd && [ -f "/etc/systemd/system/$unit" ]; then
        unit_as_root remove-unit "$unit" || fail "removing $unit failed (above)"
    fi
done
# shellcheck disable=SC2154
if use_systemd && [ -f "/etc/systemd/system/$nginx_unit" ]; then
    log "Stopping nginx (systemd unit $nginx_unit) gracefully"
    unit_as_root remove-unit "$nginx_unit" || fail "removing $nginx_unit failed (above)"
    log "Stopped nginx"
elif pid=$(master_pid); then
    log "Stopping nginx (master pid $pid) gracefully"
    run_nginx -c "$NGINX_PREFIX/conf/nginx.conf" -s quit
    deadline=$(( $(now_ms) + (SHUTDOWN_TIMEOUT_SECONDS + 5) * 1000 ))
    while [ -d "/proc/$pid" ] && [ "$(now_ms)" -lt "$deadline" ]; do sleep_ms 50; done
    if [ -d "/proc/$pid" ]; then
        log "nginx still holds connections after $((SHUTDOWN_TIMEOUT_SECONDS + 5))s (WebSockets, say):" \
            "stopping it now"
        run_nginx -c "$NGINX_PREFIX/conf/nginx.conf" -s stop 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        deadline=$(( $(now_ms) + 5000 ))
        while [ -d "/proc/$pid" ] && [ "$(now_ms)" -lt "$deadline" ]; do sleep_ms 50; done
    fi
    [ ! -d "/proc/$pid" ] || fail "nginx (pid $pid) did not stop within $((SHUTDOWN_TIMEOUT_SECONDS + 10))s"
    log "Stopped nginx"
fi
rm -f "$NGINX_PREFIX/conf/nginx.conf" "$NGINX_PREFIX/conf/live-color" "$NGINX_PREFIX/last-switch"
