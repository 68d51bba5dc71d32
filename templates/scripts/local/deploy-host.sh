# Deploys one release to one local host: ship the artifact, drain the running process, start
# the new one detached, wait until /health says ready. Runs as create and update of the host's
# command resource, so a changed release redeploys the host and nothing else. Idempotent: when
# the host already runs this release and is ready, it changes nothing (so a changed setting or
# script never restarts a healthy process).
need HOST_NAME HOST_DIR BIND_ADDRESS PORT POOL_COLOR APP_VERSION RELEASE_ID ARTIFACT_DIR \
    START_COMMAND DRAIN_TOKEN_FILE READY_TIMEOUT_SECONDS DRAIN_TIMEOUT_SECONDS HEALTH_INTERVAL_MS

release_dir="$HOST_DIR/releases/$RELEASE_ID"
pid_file="$HOST_DIR/app.pid"
log_file="$HOST_DIR/app.log"
mkdir -p "$HOST_DIR/releases"

log "Deploying $APP_VERSION ($RELEASE_ID) to $HOST_NAME at $BIND_ADDRESS:$PORT"

# 1. Ship the artifact: copy beside, then rename, so a release dir is never half-written.
[ -d "$ARTIFACT_DIR" ] || fail "$HOST_NAME: artifact directory $ARTIFACT_DIR does not exist"
if [ ! -d "$release_dir" ]; then
    staging="$release_dir.partial.$$"
    rm -rf "$staging"
    cp -a "$ARTIFACT_DIR/." "$staging/"
    mv "$staging" "$release_dir"
fi

# 2. Drain the running process (SIGTERM starts the contract's drain), bounded.
# A pid is ours only if that process runs from one of this host's release dirs.
owned_pid() {
    local pid
    pid=$(cat "$pid_file" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in
        "$HOST_DIR"/releases/*) echo "$pid" ;;
        *) return 1 ;;
    esac
}
wait_gone() { # pid, seconds
    local deadline=$(( $(now_ms) + $2 * 1000 ))
    while kill -0 "$1" 2>/dev/null; do
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep_ms 50
    done
}
body=$(mktemp)
trap 'rm -f "$body"' EXIT
if old_pid=$(owned_pid) && [ "$(readlink "/proc/$old_pid/cwd")" = "$release_dir" ] &&
    [ "$(fetch "http://$BIND_ADDRESS:$PORT/health" "$body")" = 200 ] && is_ready "$body" "$APP_VERSION"; then
    log "$HOST_NAME already runs $APP_VERSION ($RELEASE_ID, pid $old_pid) and is ready; nothing to do"
    exit 0
fi
if old_pid=$(owned_pid); then
    log "Draining $HOST_NAME (pid $old_pid, up to ${DRAIN_TIMEOUT_SECONDS}s)"
    kill -TERM "$old_pid" 2>/dev/null || true
    if ! wait_gone "$old_pid" $((DRAIN_TIMEOUT_SECONDS + 5)); then
        log "$HOST_NAME pid $old_pid still running after the drain timeout; killing it"
        kill -KILL "$old_pid" 2>/dev/null || true
        wait_gone "$old_pid" 5 || fail "$HOST_NAME: pid $old_pid survives SIGKILL"
    fi
    log "Drained $HOST_NAME (pid $old_pid)"
fi
rm -f "$pid_file"

# 3. Start detached: new session, all three streams redirected, so nothing holds this
# command's stdout open and the process outlives it.
cd "$release_dir"
PORT="$PORT" BIND_ADDRESS="$BIND_ADDRESS" APP_VERSION="$APP_VERSION" POOL_COLOR="$POOL_COLOR" \
    DRAIN_TOKEN_FILE="$DRAIN_TOKEN_FILE" DRAIN_TIMEOUT_MS=$((DRAIN_TIMEOUT_SECONDS * 1000)) \
    setsid sh -c "exec $START_COMMAND" </dev/null >>"$log_file" 2>&1 &
new_pid=$!
echo "$new_pid" >"$pid_file"

# 4. Wait until ready, polling.
started=$(now_ms)
deadline=$((started + READY_TIMEOUT_SECONDS * 1000))
status=000
while :; do
    status=$(fetch "http://$BIND_ADDRESS:$PORT/health" "$body")
    if [ "$status" = 200 ] && is_ready "$body" "$APP_VERSION"; then
        break
    fi
    if ! kill -0 "$new_pid" 2>/dev/null; then
        fail "$HOST_NAME: the new process (pid $new_pid) exited before it was ready. Last lines of $log_file: $(tail -n 5 "$log_file" | tr '\n' ' ')"
    fi
    if [ "$(now_ms)" -ge "$deadline" ]; then
        fail "$HOST_NAME ($BIND_ADDRESS:$PORT) not ready after ${READY_TIMEOUT_SECONDS}s: last /health answered $status $(one_line "$body")"
    fi
    sleep_ms "$HEALTH_INTERVAL_MS"
done
log "Deployed $APP_VERSION to $HOST_NAME (pid $new_pid), ready after $(( $(now_ms) - started )) ms"
