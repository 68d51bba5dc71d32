# shellcheck shell=bash
# The health gate, shared by health-gate.sh and nginx-switch.sh (which checks again right before
# it changes what is live, so a retried switch is never ungated). It runs on the nginx host and
# sends the Host header nginx would: it sees what nginx will. One `curl --parallel` per round asks
# every host not ready yet at once, however many there are.

# run_gate: returns when every host is ready; otherwise fails the script naming the hosts.
run_gate() {
    need POOL_COLOR EXPECT_VERSION GATE_TIMEOUT_SECONDS HEALTH_INTERVAL_MS
    # optional: HOSTS HOST_HEADER INSTANCES
    local hosts=${HOSTS:-} count started elapsed deadline entry name status url dir echoed answer
    local -A target_of=() status_of=() name_of_url=() instance_of=()
    local -a pending=() args=()
    [ -n "$hosts" ] || fail "the $POOL_COLOR pool has no hosts: refusing to send traffic to it"
    for entry in $hosts; do
        target_of[${entry%%=*}]=${entry#*=}
        name_of_url[http://${entry#*=}/health]=${entry%%=*}
        pending+=("${entry%%=*}")
    done
    # name=id: the instance id each host's deploy saw its app echo; such a host must echo it again.
    for entry in ${INSTANCES:-}; do instance_of[${entry%%=*}]=${entry#*=}; done
    count=${#pending[@]}
    started=$(now_ms)
    deadline=$((started + GATE_TIMEOUT_SECONDS * 1000))
    dir=$(mktemp -d)
    # While hosts are still pending: a line per pending host every 2 s, saying what it answers.
    local progress_every_ms=2000 next_progress
    next_progress=$((started + progress_every_ms))
    log "Gate: waiting for $count $POOL_COLOR host(s) to be ready with $EXPECT_VERSION" \
        "(budget ${GATE_TIMEOUT_SECONDS}s, in parallel)"
    while [ ${#pending[@]} -gt 0 ]; do
        args=()
        for name in "${pending[@]}"; do
            : >"$dir/$name" # no body left from an earlier round
            args+=(-o "$dir/$name" "http://${target_of[$name]}/health")
        done
        # One line per host: "<status> <url>" (000 when nothing answered).
        while read -r status url; do
            if [ -n "$url" ] && [ -n "${name_of_url[$url]:-}" ]; then status_of[${name_of_url[$url]}]=$status; fi
        done < <(curl --silent --parallel --parallel-immediate --parallel-max 64 --max-time 2 \
            ${HOST_HEADER:+--header "Host: $HOST_HEADER"} --write-out '%{http_code} %{url_effective}\n' \
            "${args[@]}" 2>/dev/null || true)
        local -a still=()
        elapsed=$(( $(now_ms) - started ))
        for name in "${pending[@]}"; do
            if [ "${status_of[$name]:-000}" = 200 ] && is_ready "$dir/$name" "$EXPECT_VERSION"; then
                echoed=$(echoed_instance "$dir/$name")
                if [ -n "${instance_of[$name]:-}" ] && [ "$echoed" != "${instance_of[$name]}" ]; then
                    # Waiting cannot change who holds the port: fail now.
                    answer=$(one_line "$dir/$name" | cut -c1-120)
                    rm -rf "$dir"
                    fail "gate failed: $name (${target_of[$name]}) is answered by another process: its /health" \
                        "echoes instance '${echoed:-none}', the deploy started '${instance_of[$name]}'" \
                        "($answer). Traffic was not switched. Stop what holds" \
                        "the port, then redeploy the host: pulumi up --replace <its deploy command's URN>" \
                        "(pulumi stack --show-urns lists them)"
                fi
                log "  $name (${target_of[$name]}) ready after $elapsed ms"
            elif final_status "${status_of[$name]:-000}"; then
                answer=$(one_line "$dir/$name" | cut -c1-120)
                rm -rf "$dir"
                fail "gate failed: $name (${target_of[$name]}) answered /health with ${status_of[$name]}," \
                    "which waiting cannot change ($answer). Traffic was not switched. $(refused_hint)"
            else
                still+=("$name")
            fi
        done
        pending=("${still[@]+"${still[@]}"}")
        [ ${#pending[@]} -gt 0 ] || break
        if [ "$elapsed" -ge $((next_progress - started)) ] && [ "$(now_ms)" -lt "$deadline" ]; then
            for name in "${pending[@]}"; do
                log "  $name (${target_of[$name]}) not ready yet after $elapsed ms:" \
                    "/health answered ${status_of[$name]:-000} $(one_line "$dir/$name" | cut -c1-120)"
            done
            next_progress=$((next_progress + progress_every_ms))
        fi
        if [ "$(now_ms)" -ge "$deadline" ]; then
            for name in "${pending[@]}"; do
                log "  $name (${target_of[$name]}) NOT ready after ${GATE_TIMEOUT_SECONDS}s:" \
                    "last /health answered ${status_of[$name]:-000} $(one_line "$dir/$name")"
            done
            rm -rf "$dir"
            fail "gate failed: ${#pending[@]} of $count $POOL_COLOR host(s) not ready (details above);" \
                "traffic was not switched. A host whose app stopped (answered 000) is redeployed with:" \
                "pulumi up --replace <its deploy command's URN> (pulumi stack --show-urns lists them)"
        fi
        sleep_ms "$HEALTH_INTERVAL_MS"
    done
    rm -rf "$dir"
    log "Gate passed: all $count $POOL_COLOR host(s) ready in $(( $(now_ms) - started )) ms"
}
