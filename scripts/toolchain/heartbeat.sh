# shellcheck shell=bash
# Sourced by the toolchain scripts, which define say and die.
# with_heartbeat LABEL COMMAND...: runs COMMAND with its output kept back (shown only if it fails)
# and prints a line every 30 s, so a long first build does not look hung.
with_heartbeat() {
    local label=$1 start=$SECONDS log status=0 heartbeat
    shift
    log=$(mktemp)
    # The nap is killed with the loop: a leftover sleep would hold the caller's output open.
    (
        trap 'kill "${nap:-}" 2>/dev/null; exit 0' TERM
        while :; do
            sleep 30 &
            nap=$!
            wait "$nap"
            say "  ... still $label ($((SECONDS - start)) s)"
        done
    ) &
    heartbeat=$!
    "$@" >"$log" 2>&1 || status=$?
    kill "$heartbeat" 2>/dev/null || true
    wait "$heartbeat" 2>/dev/null || true
    if [ "$status" -ne 0 ]; then
        cat "$log" >&2
        rm -f "$log"
        die "$label failed (output above)"
    fi
    rm -f "$log"
    say "  done in $((SECONDS - start)) s"
}
