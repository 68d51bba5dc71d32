# Stops the router's nginx gracefully (requests in flight finish, bounded by
# worker_shutdown_timeout); runs when the router is deleted.
need NGINX_PREFIX SHUTDOWN_TIMEOUT_SECONDS
nginx_bin=${NGINX_BIN:-nginx}
pid_file="$NGINX_PREFIX/logs/nginx.pid"
pid=$(cat "$pid_file" 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q 'nginx: master' "/proc/$pid/cmdline" 2>/dev/null; then
    log "Stopping nginx (master pid $pid) gracefully"
    "$nginx_bin" -p "$NGINX_PREFIX/" -e "$NGINX_PREFIX/logs/error.log" -c "$NGINX_PREFIX/conf/nginx.conf" -s quit
    deadline=$(( $(now_ms) + (SHUTDOWN_TIMEOUT_SECONDS + 5) * 1000 ))
    while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do sleep_ms 50; done
    kill -0 "$pid" 2>/dev/null && fail "nginx (pid $pid) did not stop within $((SHUTDOWN_TIMEOUT_SECONDS + 5))s"
    log "Stopped nginx"
fi
# Installed by nginx-switch.sh where systemd runs: the router is gone, so is its unit.
if [ -f /etc/systemd/system/bluegreen-nginx.service ] && systemd_runs; then
    as_root systemctl disable --quiet bluegreen-nginx.service || true
    as_root rm -f /etc/systemd/system/bluegreen-nginx.service
    as_root systemctl daemon-reload
fi
rm -f "$NGINX_PREFIX/conf/nginx.conf" "$NGINX_PREFIX/conf/live-color" "$NGINX_PREFIX/last-switch"
