# shellcheck shell=bash
# The process supervisor: the app runs detached in its own session, tracked by a pid file.
# Used on the local target and on hosts without systemd (containers, the test hosts). It starts
# and drains the app; it does not restart an app that crashes (systemd does: supervisor.sh).
# The functions it defines are the supervisor interface: process_owned_pid,
# process_start_release, process_stop_running, process_stop_unready.
need HOST_NAME HOST_DIR DRAIN_TIMEOUT_SECONDS START_COMMAND
pid_file="$HOST_DIR/app.pid"

# A pid is ours only if that process runs from one of this host's release dirs.
process_owned_pid() {
    local pid
    pid=$(cat "$pid_file" 2>/dev/null) || return 1
    alive "$pid" && running_from_release "$pid" || return 1
    echo "$pid"
}

# process_start_release DIR VERSION: start detached (new session, all three streams
# redirected, so nothing holds this command's output open and the process outlives it).
# shellcheck disable=SC2154 # log_file: set by supervisor.sh, in front of this file at run time
process_start_release() {
    app_file "$log_file"
    (
        cd "$1" || exit
        exec_app "$2" setsid sh -c "exec $START_COMMAND" </dev/null >>"$log_file" 2>&1 &
        echo "$!" >"$pid_file"
    )
    cat "$pid_file"
}

# process_stop_running: drain the running process (SIGTERM starts the contract's drain), bounded.
process_stop_running() {
    local pid
    if pid=$(process_owned_pid); then
        log "Draining $HOST_NAME (pid $pid, up to ${DRAIN_TIMEOUT_SECONDS}s)"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" $((DRAIN_TIMEOUT_SECONDS + 5)); then
            log "$HOST_NAME pid $pid still running after the drain timeout; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || fail "$HOST_NAME: pid $pid survives SIGKILL"
        fi
        log "Drained $HOST_NAME (pid $pid)"
    fi
    rm -f "$pid_file"
}

# process_stop_unready: stop a running process that never became ready, without a drain.
process_stop_unready() {
    local pid grace started
    if pid=$(process_owned_pid); then
        grace=$(unready_grace)
        started=$(now_ms)
        log "Stopping $HOST_NAME (pid $pid): it never became ready, so it served nothing to drain;" \
            "SIGTERM, then SIGKILL after ${grace}s (not the ${DRAIN_TIMEOUT_SECONDS}s drain)"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" "$grace"; then
            log "$HOST_NAME pid $pid still running ${grace}s after SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || fail "$HOST_NAME: pid $pid survives SIGKILL"
        fi
        log "Stopped $HOST_NAME (pid $pid) after $(($(now_ms) - started)) ms"
    fi
    rm -f "$pid_file"
}
