# shellcheck shell=bash
# Applies the nginx config and the live colour, then verifies through the public listener.
# The pool is gated again first: a retried switch whose gate step passed earlier is never
# applied ungated. Any failure puts the previous config and colour back and fails the command,
# so Pulumi keeps the previous state and the change stays pending. Steps: switch-lib.sh; with an
# ACME CA, the certificate: acme-lib.sh.
need SWITCH_MODE
# optional: RECONCILE

prepare_prefix
# One certificate change at a time: the host's renewal timer waits for this switch, and it for a renewal.
if acme_enabled; then acme_lock; fi
[ -z "${RECONCILE:-}" ] || log "Reconciling: $RECONCILE"
run_gate
if [ "$SWITCH_MODE" = no-reload ]; then prepare_no_reload; fi
observe_served

started=$(now_ms)
write_tls
if acme_enabled; then choose_acme_config; fi
apply_config
config_done=$(now_ms)
apply_live_color
live_done=$(now_ms)
if problem=$(verify); then
    verified=$(now_ms)
    record_live
    if acme_enabled; then acme_after_switch; else remove_renewal; fi
    report_switched "$started" "$config_done" "$live_done" "$verified"
    exit 0
fi
log "Verification failed: $problem"
restore "$problem"
