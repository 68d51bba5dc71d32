# Process handling of a local host's app, shared by deploy-host.sh and stop-host.sh.
# Needs HOST_NAME, HOST_DIR, DRAIN_TIMEOUT_SECONDS and pid_file.

# alive PID: running, not a zombie waiting to be reaped.
alive() {
    kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# A pid is ours only if that process runs from one of this host's release dirs.
owned_pid() {
    local pid
    pid=$(cat "$pid_file" 2>/dev/null) || return 1
    [ -n "$pid" ] && alive "$pid" || return 1
    case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in
        "$HOST_DIR"/releases/*) echo "$pid" ;;
        *) return 1 ;;
    esac
}

wait_gone() { # pid seconds
    local deadline=$(( $(now_ms) + $2 * 1000 ))
    while alive "$1"; do
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep_ms 50
    done
}

# stop_running: drain the running process (SIGTERM starts the contract's drain), bounded.
stop_running() {
    local pid
    if pid=$(owned_pid); then
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

