# shellcheck shell=bash
# Applies the nginx config and the live colour, then verifies through the public listener.
# The pool is gated again first: a retried switch whose gate step passed earlier is never
# applied ungated. Any failure puts the previous config and colour back and fails the command,
# so Pulumi keeps the previous state and the change stays pending. In maintenance no traffic
# reaches the pool, so it is not gated then; maintenance going off is. A canary's pool is gated as
# the live one. Steps: switch-lib.sh; with an ACME CA, the certificate: acme-lib.sh.
need SWITCH_MODE
# optional: RECONCILE MAINTENANCE MAINTENANCE_PAGE RETIRED_HOSTS DRAIN_TOKEN
# optional: CANARY CANARY_HOSTS CANARY_VERSION CANARY_INSTANCES
# optional: ROUTER_NAME CONFIRM_SECONDS

prepare_prefix
# One certificate change at a time: the host's renewal timer waits for this switch, and it for a renewal.
if acme_enabled; then acme_lock; fi
expire_unconfirmed
[ -z "${RECONCILE:-}" ] || log "Reconciling: $RECONCILE"
maintenance=${MAINTENANCE:-off} # switch-lib.sh's: what this switch wants
canary=${CANARY:-off}
if [ "$maintenance" = on ]; then
    log "Maintenance is on: the public listener answers the maintenance page, so $LIVE_COLOR is not gated"
else
    run_gate
    # The canary's pool, with its own hosts and release (a failed gate fails the switch: exit).
    if canary_running; then
        (
            # shellcheck disable=SC2034 # gate-lib.sh's
            POOL_COLOR=${canary% *} HOSTS=${CANARY_HOSTS:-} EXPECT_VERSION=${CANARY_VERSION:-}
            # shellcheck disable=SC2034
            INSTANCES=${CANARY_INSTANCES:-}
            run_gate
        ) || exit 1
    fi
fi
if [ "$SWITCH_MODE" = no-reload ]; then prepare_no_reload; fi
observe_served

# Hosts this update removes, in two groups: those of the pools that served until now (the live one,
# a running canary's), whose requests stop only when the switch and its bake have passed (a restore
# sends them requests again), and the others, which serve nothing from the reload on.
retired_live=()
retired_idle=()
# shellcheck disable=SC2154 # previous_live, previous_canary: switch-lib.sh's (observe_served)
for host in ${RETIRED_HOSTS:-}; do
    case "${host%%-*}" in
        "$previous_live" | "${previous_canary% *}") retired_live+=("$host") ;;
        *) retired_idle+=("$host") ;;
    esac
done
# The bake counts the new colour's requests from here, before any can reach it (a new config
# brings the new colour with it).
# shellcheck disable=SC2034,SC2154 # bake-lib.sh's
if baking; then bake_baseline=$(colour_counters "$bake_colour"); fi

started=$(now_ms)
write_tls
write_maintenance_page "${MAINTENANCE_PAGE:-Down for maintenance.}"
if acme_enabled; then choose_acme_config; fi
apply_config
# Removed hosts: nginx sends them nothing new now; their own drain closes what they still hold
# before the old workers' shutdown timeout would cut it, however late their deletes run. Those of
# the pools that served are drained once the switch is verified and baked: a restore before then
# would still send them requests.
[ ${#retired_idle[@]} -eq 0 ] || drain_retired "${DRAIN_TOKEN:-}" "${retired_idle[@]}"
config_done=$(now_ms)
# Maintenance goes on before, and off after, the colour changes: no request reaches a pool in between.
# The canary follows the colour: a switch that completes one first makes the canary's colour live
# (which leaves its canary inert), then ends it; no client goes back to the old colour on the way.
if [ "$maintenance" = on ]; then
    apply_maintenance
    apply_live_color
    apply_canary
else
    apply_live_color
    apply_canary
    apply_maintenance
fi
live_done=$(now_ms)
if problem=$(verify); then
    verified=$(now_ms)
    # Over a threshold the previous colour goes back at once: a no-reload switch, which cuts nothing.
    # Recording the verdict never stops the switch (nor the restore).
    bake_summary=""
    if baking; then
        if bake_summary=$(bake); then
            record_bake true "$bake_summary" || log "warning: the bake's verdict was not kept in bakes/log" >&2
        else
            record_bake false "$bake_summary" || log "warning: the bake's verdict was not kept in bakes/log" >&2
            restore "$bake_summary"
        fi
    fi
    if confirming; then
        # Drained once every router sends them nothing: after the confirmation.
        # shellcheck disable=SC2154 # switch-lib.sh's
        last_switch_before=$(cat "$last_switch_file" 2>/dev/null || true)
        record_live
        await_confirmation "$last_switch_before" "${retired_live[@]}"
    else
        [ ${#retired_live[@]} -eq 0 ] || drain_retired "${DRAIN_TOKEN:-}" "${retired_live[@]}"
        record_live
    fi
    if acme_enabled; then acme_after_switch; else remove_renewal; fi
    report_switched "$started" "$config_done" "$live_done" "$verified" "$bake_summary"
    exit 0
fi
log "Verification failed: $problem"
restore "$problem"
