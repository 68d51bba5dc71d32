# shellcheck shell=bash
# The systemd supervisor: one unit per host (rendered from templates/systemd/ and passed in
# UNIT_TEXT), whose WorkingDirectory is HOST_DIR/current, a link to the release that runs.
# Stopping the unit sends SIGTERM, which starts the contract's drain; TimeoutStopSec bounds it.
# systemd restarts an app that crashes (Restart=on-failure).
need HOST_NAME HOST_DIR DRAIN_TIMEOUT_SECONDS
unit_name=bluegreen-app.service

systemd_owned_pid() {
    local pid
    systemctl is-active --quiet "$unit_name" || return 1
    pid=$(systemctl show --property MainPID --value "$unit_name")
    [ -n "$pid" ] && [ "$pid" != 0 ] && alive "$pid" && running_from_release "$pid" || return 1
    echo "$pid"
}

# systemd_adopt_log: an earlier version's unit had systemd (root) open app.log; now the app's
# shell appends to it as the login, so a log the login cannot write is moved aside (the
# directory is the login's).
# shellcheck disable=SC2154 # log_file: set by supervisor.sh, in front of this file at run time
systemd_adopt_log() {
    if [ -e "$log_file" ] && [ ! -w "$log_file" ]; then
        mv -f "$log_file" "$log_file.root"
        log "$HOST_NAME: $log_file was root's (an earlier version's unit): kept as $log_file.root" >&2
    fi
}

# systemd_start_release DIR VERSION: point current at DIR, install the unit if it changed, start.
systemd_start_release() {
    need UNIT_TEXT
    app_variables "$2" >"$HOST_DIR/app.env.new"
    app_file "$HOST_DIR/app.env.new"
    mv -f "$HOST_DIR/app.env.new" "$HOST_DIR/app.env"
    ln -sfn "$1" "$HOST_DIR/current.new"
    mv -Tf "$HOST_DIR/current.new" "$HOST_DIR/current"
    systemd_adopt_log
    app_file "$log_file"
    install_unit "$unit_name" "$UNIT_TEXT"
    # A unit that fails to start leaves no pid: wait_ready then reports the log's last lines.
    unit_as_root start "$unit_name" >&2 || true
    systemctl show --property MainPID --value "$unit_name"
}

systemd_stop_running() {
    local pid
    if systemctl is-active --quiet "$unit_name"; then
        pid=$(systemctl show --property MainPID --value "$unit_name")
        log "Draining $HOST_NAME (unit $unit_name, pid $pid, up to ${DRAIN_TIMEOUT_SECONDS}s)"
        unit_as_root stop "$unit_name" || fail "$HOST_NAME: stopping $unit_name failed (above)"
        log "Drained $HOST_NAME (pid $pid)"
    fi
}

# systemd_stop_unready: stop a unit whose app never became ready, without a drain. The stop is
# asked first, so that systemd does not restart what is then killed (Restart=on-failure); the
# unit runs as this login (or as APP_USER, where this is root), which may signal it.
systemd_stop_unready() {
    local pid grace started stopper
    systemctl is-active --quiet "$unit_name" || return 0
    pid=$(systemctl show --property MainPID --value "$unit_name")
    grace=$(unready_grace)
    started=$(now_ms)
    log "Stopping $HOST_NAME (unit $unit_name, pid $pid): it never became ready, so it served nothing to" \
        "drain; SIGTERM, then SIGKILL after ${grace}s (not the ${DRAIN_TIMEOUT_SECONDS}s drain)"
    unit_as_root stop "$unit_name" &
    stopper=$!
    if ! wait_gone "$pid" "$grace"; then
        log "$HOST_NAME pid $pid still running ${grace}s after SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$stopper" || fail "$HOST_NAME: stopping $unit_name failed (above)"
    log "Stopped $HOST_NAME (pid $pid) after $(($(now_ms) - started)) ms"
}

# systemd_remove_unit: the host leaves the pool: stop, disable and remove the unit.
systemd_remove_unit() {
    unit_as_root remove-unit "$unit_name" || fail "$HOST_NAME: removing $unit_name failed (above)"
}
