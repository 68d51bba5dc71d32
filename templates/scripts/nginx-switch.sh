# shellcheck shell=bash
# Applies the rendered nginx config and the live colour, then verifies through the listeners.
#  1. Config: when it differs from the running one (or nginx is not running), write it beside
#     the live file, `nginx -t` it, rename it into place (atomic), reload (or start nginx if it
#     is not running; never restart) and wait until nginx serves the new config id.
#  2. Live colour: in reload mode it is part of the config. In no-reload mode it is written to
#     conf/live-color (read when nginx starts or reloads) and set in nginx's shared memory
#     through the internal listener: no reload, no connection closed.
#  3. Verify: /health and every smoke path answer 2xx from LIVE_COLOR on the public listener.
# Before any of it, the pool going live is gated again (gate-lib.sh): a retried switch whose
# separate gate step passed earlier is never applied ungated.
# On failure the previous config and colour are put back (restore) and the command fails, so
# Pulumi keeps the previous state and the change stays pending.
# The steps and the state they share are in switch-lib.sh.
need SWITCH_MODE
# optional: RECONCILE

prepare_prefix
[ -z "${RECONCILE:-}" ] || log "Reconciling: $RECONCILE"
run_gate
if [ "$SWITCH_MODE" = no-reload ]; then prepare_no_reload; fi
observe_served

started=$(now_ms)
write_tls
apply_config
config_done=$(now_ms)
apply_live_color
live_done=$(now_ms)
if problem=$(verify); then
    report_switched "$started" "$config_done" "$live_done"
    exit 0
fi
log "Verification failed: $problem"
restore "$problem"
