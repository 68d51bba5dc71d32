# shellcheck shell=bash
# The bake, after a switch or a canary's larger share: the colour that gets the new traffic, its own
# numbers from nginx's /metrics (nginx.conf.hbs), counted from right before traffic moved, judged
# against the thresholds as they come in. Over one, the switch puts the previous colour and canary
# back at once (restore). Steps of nginx-switch.sh.
# optional: BAKE_SECONDS BAKE_MAX_5XX_PERCENT BAKE_MAX_P99_MS BAKE_MIN_REQUESTS

bake_baseline="" # the new colour's counters right before the switch (colour_counters), or "unread"
bake_colour=""   # the colour baked (baking)

# baking: a bake is asked for, and this switch moves traffic from a colour it can go back to: to
# LIVE_COLOR, or to a canary's colour (a canary starts, or its share grows). Sets bake_colour.
# shellcheck disable=SC2154 # previous_*, maintenance, canary: switch-lib.sh's and nginx-switch.sh's
baking() {
    { [ "${BAKE_SECONDS:-0}" -gt 0 ] && [ -n "$previous_live" ] && [ "$maintenance" != on ]; } || return 1
    if [ "$previous_live" != "$LIVE_COLOR" ]; then
        bake_colour=$LIVE_COLOR
        return 0
    fi
    canary_running || return 1
    local before=0
    [ "${previous_canary% *}" != "${canary% *}" ] || before=${previous_canary#* }
    [ "${canary#* }" -gt "$before" ] || return 1
    bake_colour=${canary% *}
}

# colour_counters COLOR: "requests 5xx le=count..." of COLOR's public requests so far, one line;
# "0 0" where nginx has no metrics yet (a config from before them: a new one starts from 0), and
# "unread" where it could not be asked. %.0f: mawk's %d stops at 2^31, counters do not.
# shellcheck disable=SC2154 # body: switch-lib.sh's scratch file
colour_counters() {
    case $(fetch "$INTERNAL_URL/metrics" "$body") in
        200) ;;
        404) echo "0 0"; return 0 ;;
        *) echo unread; return 0 ;;
    esac
    awk -v c="$1" '
        index($0, "bluegreen_requests_total{color=\"" c "\",") == 1 { total += $2; if ($0 ~ /class="5xx"/) bad += $2 }
        index($0, "bluegreen_request_duration_seconds_bucket{color=\"" c "\",") == 1 {
            match($0, /le="[^"]*"/)
            buckets = buckets " " substr($0, RSTART + 4, RLENGTH - 5) "=" $2
        }
        END { printf "%.0f %.0f%s\n", total, bad, buckets }' "$body"
}

# bake_figures NOW: "requests 5xx percent p99" since bake_baseline; p99 is the upper bound of its
# histogram bucket, in seconds (+Inf past the last one), of the histogram's own count (its +Inf
# bucket: WebSockets are not in it, and a flush read half-way moves both alike).
bake_figures() {
    awk -v a="$bake_baseline" -v b="$1" 'BEGIN {
        n = split(a, A, " "); m = split(b, B, " ")
        total = B[1] - A[1]; bad = B[2] - A[2]; p99 = "+Inf"
        for (i = 3; i <= n; i++) { split(A[i], kv, "="); base[kv[1]] = kv[2] }
        for (i = 3; i <= m; i++) { split(B[i], kv, "="); now[kv[1]] = kv[2] }
        timed = now["+Inf"] - base["+Inf"]
        for (i = 3; i <= m; i++) {
            split(B[i], kv, "=")
            if (p99 == "+Inf" && timed > 0 && kv[2] - base[kv[1]] >= 0.99 * timed) p99 = kv[1]
        }
        printf "%.0f %.0f %.2f %s\n", total, bad, (total > 0 ? 100 * bad / total : 0), p99
    }'
}

# over LEFT RIGHT: LEFT > RIGHT, as decimal numbers.
over() { awk -v l="$1" -v r="$2" 'BEGIN { exit !(l > r) }'; }

# over_share BAD TOTAL PERCENT: BAD is more than PERCENT % of TOTAL (exact: no rounded share).
over_share() { awk -v b="$1" -v t="$2" -v p="$3" 'BEGIN { exit !(b * 100 > p * t) }'; }

# bake: watches bake_colour for BAKE_SECONDS, polling /metrics; fails at once when, with at least
# BAKE_MIN_REQUESTS answered, the 5xx share or the p99 is over its limit. Prints what it saw.
bake() {
    local started deadline total=0 bad=0 percent=0 p99="" seconds now limit="${BAKE_MAX_P99_MS:-0}e-3"
    if [ "$bake_baseline" = unread ]; then
        echo "$bake_colour was not judged: nginx's /metrics could not be read before traffic moved"
        return 0
    fi
    started=$(now_ms)
    deadline=$((started + BAKE_SECONDS * 1000))
    log "Baking $bake_colour for ${BAKE_SECONDS}s: at most ${BAKE_MAX_5XX_PERCENT}% 5xx$(
        [ "${BAKE_MAX_P99_MS:-0}" -gt 0 ] && echo ", p99 at most ${BAKE_MAX_P99_MS} ms"
    ), judged from ${BAKE_MIN_REQUESTS} requests" >&2
    while :; do
        now=$(colour_counters "$bake_colour")
        # A read that failed is skipped, never taken for zero.
        [ "$now" = unread ] || read -r total bad percent p99 <<<"$(bake_figures "$now")"
        seconds=$(( ($(now_ms) - started) / 1000 ))
        if [ "$total" -ge "$BAKE_MIN_REQUESTS" ]; then
            if over_share "$bad" "$total" "$BAKE_MAX_5XX_PERCENT"; then
                echo "the bake of $bake_colour failed ${seconds}s after traffic moved: $percent% of its" \
                    "$total requests answered 5xx ($bad; the limit is ${BAKE_MAX_5XX_PERCENT}%)"
                return 1
            fi
            if [ "${BAKE_MAX_P99_MS:-0}" -gt 0 ] && { [ "$p99" = +Inf ] || over "$p99" "$limit"; }; then
                echo "the bake of $bake_colour failed ${seconds}s after traffic moved: its p99 latency over $total" \
                    "requests is above ${BAKE_MAX_P99_MS} ms (in the bucket up to ${p99}s)"
                return 1
            fi
        fi
        [ "$(now_ms)" -lt "$deadline" ] || break
        sleep_ms 500
    done
    if [ "$total" -lt "$BAKE_MIN_REQUESTS" ]; then
        echo "$bake_colour answered $total requests in ${BAKE_SECONDS}s, fewer than the $BAKE_MIN_REQUESTS it is" \
            "judged from: not judged"
    else
        echo "$bake_colour answered $total requests in ${BAKE_SECONDS}s: $percent% 5xx, p99 up to ${p99}s"
    fi
}

# record_bake PASSED SUMMARY: the verdict, appended to bakes/log (the newest 100), which the internal
# listener serves: the program records it in the stack's outputs for `npm run history`, a failed one
# at the next successful update. nginx's workers read it: where they run as NGINX_WORKER_USER,
# through its group.
# shellcheck disable=SC2154 # json_string: switch-lib.sh's
record_bake() {
    local dir="$NGINX_PREFIX/bakes"
    mkdir -p "$dir"
    {
        tail -n 99 "$dir/log" 2>/dev/null || true
        printf '{"at":%s,"color":%s,"passed":%s,"summary":%s}\n' "$(json_string "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" \
            "$(json_string "$bake_colour")" "$1" "$(json_string "$2")"
    } >"$dir/log.new"
    chmod 750 "$dir"
    chmod 640 "$dir/log.new"
    if dedicated "${NGINX_WORKER_USER:-}"; then chgrp "$NGINX_WORKER_USER" "$dir" "$dir/log.new"; fi
    mv -f "$dir/log.new" "$dir/log"
}
