# Stops one local host's app through the contract's drain (SIGTERM), bounded; runs when the
# host's command resource is deleted (the pool shrank or the stack is destroyed).
need HOST_NAME HOST_DIR DRAIN_TIMEOUT_SECONDS

pid_file="$HOST_DIR/app.pid"
pid=$(cat "$pid_file" 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in
        "$HOST_DIR"/releases/*)
            log "Stopping $HOST_NAME (pid $pid): draining"
            kill -TERM "$pid" 2>/dev/null || true
            deadline=$(( $(now_ms) + (DRAIN_TIMEOUT_SECONDS + 5) * 1000 ))
            while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do sleep_ms 50; done
            if kill -0 "$pid" 2>/dev/null; then
                log "$HOST_NAME pid $pid did not exit after draining; killing it"
                kill -KILL "$pid" 2>/dev/null || true
            fi
            log "Stopped $HOST_NAME"
            ;;
        *) log "$HOST_NAME: pid $pid is not this host's app; leaving it alone" ;;
    esac
fi
rm -f "$pid_file"
