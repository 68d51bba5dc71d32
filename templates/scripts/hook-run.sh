# shellcheck shell=bash
# Runs a switch hook (preSwitchCommand, postSwitchCommand) on one host of the pool going live, in
# the directory of the release going live, as the app's user, in a clean environment: the
# release's version and colour, the hook's name and what was live before; never this command's
# own variables. Runs when a release goes live (Hook's triggers), not at every update. The whole
# output stays on the host (hooks/); its last lines are printed, then the result line Hook parses.
# A failure fails the update (HOOK_FAILURE=fail, pre-switch: traffic has not moved) or is reported
# as a warning (warn, post-switch: traffic has moved and stays).
need HOOK HOOK_COMMAND HOOK_TIMEOUT_SECONDS HOOK_FAILURE HOST_NAME HOST_DIR RELEASE_ID APP_VERSION POOL_COLOR \
    GOING_LIVE
# optional: PREVIOUS_COLOR PREVIOUS_VERSION APP_USER

# Lines of the hook's output printed into the update's log (all of it is in the host's file).
shown_lines=40

# report RAN EXIT_STATUS SECONDS: the result line (hookResult.ts).
report() {
    printf 'bluegreen-hook {"hook":"%s","ran":%s,"exitStatus":%s,"seconds":%s,"color":"%s","version":"%s",%s}\n' \
        "$HOOK" "$1" "$2" "$3" "$POOL_COLOR" "$APP_VERSION" "\"ranAt\":\"${ran_at:-}\""
}

if [ "$GOING_LIVE" != true ]; then
    log "The $HOOK hook did not run: $POOL_COLOR ($APP_VERSION) was live already, and hooks run when a release" \
        "goes live"
    report false 0 0
    exit 0
fi

release_dir="$HOST_DIR/releases/$RELEASE_ID"
[ -d "$release_dir" ] || fail "$HOST_NAME has no release $RELEASE_ID ($release_dir) to run the $HOOK hook in." \
    "Its deploy put it there: run pulumi up again, which deploys it first"
hooks_dir="$HOST_DIR/hooks"
mkdir -p "$hooks_dir"
chmod 700 "$hooks_dir"
output="$hooks_dir/$(date -u +%Y%m%dT%H%M%SZ)-$HOOK-$APP_VERSION.log"
log "Running the $HOOK hook on $HOST_NAME in $POOL_COLOR $APP_VERSION: $HOOK_COMMAND" \
    "(at most ${HOOK_TIMEOUT_SECONDS}s)"
started=$(now_ms)
ran_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
status=0
(
    cd "$release_dir" || exit 1
    vars=(PATH="$PATH" LANG="${LANG:-C.UTF-8}" HOOK="$HOOK" APP_VERSION="$APP_VERSION" POOL_COLOR="$POOL_COLOR"
        RELEASE_ID="$RELEASE_ID" PREVIOUS_COLOR="${PREVIOUS_COLOR:-}" PREVIOUS_VERSION="${PREVIOUS_VERSION:-}")
    drop=()
    if dedicated "${APP_USER:-}"; then
        drop=(setpriv --reuid="$APP_USER" --regid="$APP_USER" --init-groups --no-new-privs)
        vars+=(HOME=/) # it has none; root's is not its to read
    else
        vars+=(HOME="${HOME:-/}")
    fi
    # The command line is the operator's, split by sh as the app's start command is; through env,
    # so that NAME=value words in front of it set variables.
    exec env -i "${vars[@]}" ${drop[@]+"${drop[@]}"} timeout -k 10 "$HOOK_TIMEOUT_SECONDS" \
        sh -c "exec env $HOOK_COMMAND" </dev/null
) >"$output" 2>&1 || status=$?
ms=$(($(now_ms) - started))
seconds=$(printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)))
if [ -s "$output" ]; then
    log "Its output (last $shown_lines lines; all of it in $output on $HOST_NAME):"
    tail -n "$shown_lines" "$output" | sed 's/^/    | /'
fi
if [ "$status" = 0 ]; then
    log "The $HOOK hook passed on $HOST_NAME in ${seconds}s"
    report true 0 "$seconds"
    exit 0
fi
case $status in
    124 | 137) why="did not finish within ${HOOK_TIMEOUT_SECONDS}s and was stopped" ;;
    *) why="exited with status $status" ;;
esac
if [ "$HOOK_FAILURE" = warn ]; then
    log "WARNING: the $HOOK hook $why on $HOST_NAME after ${seconds}s. Traffic stays on $POOL_COLOR: a failed" \
        "$HOOK hook never moves it back."
    report true "$status" "$seconds"
    exit 0
fi
fail "the $HOOK hook $why on $HOST_NAME after ${seconds}s (its output is above, all of it in $output)." \
    "Traffic was not moved: ${PREVIOUS_COLOR:-nothing} stays live. Fix what it reports, then run pulumi up again:" \
    "the hook runs again first"
