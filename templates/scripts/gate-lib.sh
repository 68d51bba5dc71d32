# The health gate as a function, shared by health-gate.sh and nginx-switch.sh (which checks
# again right before it changes what is live, so a retried switch is never ungated).
# Every host of POOL_COLOR in HOSTS (space-separated name=address:port) must answer GET /health
# with 200, status "ready" and EXPECT_VERSION within GATE_TIMEOUT_SECONDS. Hosts are checked in
# parallel, polled every HEALTH_INTERVAL_MS, with a progress line per host.

gate_check_host() { # name address:port
    local name=$1 target=$2 body status started deadline
    body=$(mktemp)
    started=$(now_ms)
    deadline=$((started + GATE_TIMEOUT_SECONDS * 1000))
    while :; do
        status=$(fetch "http://$target/health" "$body")
        if [ "$status" = 200 ] && is_ready "$body" "$EXPECT_VERSION"; then
            log "  $name ($target) ready after $(( $(now_ms) - started )) ms"
            rm -f "$body"
            return 0
        fi
        if [ "$(now_ms)" -ge "$deadline" ]; then
            log "  $name ($target) NOT ready after ${GATE_TIMEOUT_SECONDS}s: last /health answered $status $(one_line "$body")"
            rm -f "$body"
            return 1
        fi
        sleep_ms "$HEALTH_INTERVAL_MS"
    done
}

# run_gate: returns 0 when every host is ready; otherwise fails the script naming the count.
run_gate() {
    need POOL_COLOR EXPECT_VERSION GATE_TIMEOUT_SECONDS HEALTH_INTERVAL_MS
    local hosts=${HOSTS:-} count started entry pid failed=0 pids=()
    [ -n "$hosts" ] || fail "the $POOL_COLOR pool has no hosts: refusing to send traffic to it"
    count=$(wc -w <<<"$hosts")
    started=$(now_ms)
    log "Gate: waiting for $count $POOL_COLOR host(s) to be ready with $EXPECT_VERSION (budget ${GATE_TIMEOUT_SECONDS}s, in parallel)"
    for entry in $hosts; do
        gate_check_host "${entry%%=*}" "${entry#*=}" &
        pids+=("$!")
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=$((failed + 1))
    done
    if [ "$failed" -gt 0 ]; then
        fail "gate failed: $failed of $count $POOL_COLOR host(s) not ready (details above); traffic was not switched"
    fi
    log "Gate passed: all $count $POOL_COLOR host(s) ready in $(( $(now_ms) - started )) ms"
}
