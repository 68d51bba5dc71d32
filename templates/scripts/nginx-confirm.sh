# shellcheck shell=bash
# Confirms this router's switch once every router has switched (several routers: confirm-lib.sh):
# its watchdog stops, and the first router drains the removed hosts of the pools that served. A
# router whose watchdog already went back fails, saying so: the routers may disagree until the
# next pulumi up, which finds it and switches them all again.
need NGINX_PREFIX ROUTER_NAME ROUTERS
# optional: DRAIN_TOKEN

# shellcheck disable=SC2154 # unconfirmed, expired: confirm-lib.sh's, in front of this file
if mv -f "$unconfirmed" "$unconfirmed.confirmed" 2>/dev/null; then
    wake_watchdog
    log "Confirmed on $ROUTER_NAME (routers: $ROUTERS): $(head -n 1 "$unconfirmed.confirmed")"
    read -r -a retired_live < <(sed -n 2p "$unconfirmed.confirmed")
    rm -f "$unconfirmed.confirmed"
    if [ ${#retired_live[@]} -gt 0 ] && [ -n "${DRAIN_TOKEN:-}" ]; then
        drain_retired "$DRAIN_TOKEN" "${retired_live[@]}"
    fi
elif [ -f "$expired" ]; then
    fail "$ROUTER_NAME was not confirmed in time and went back on its own: $(tr '\n' ' ' <"$expired")." \
        "The routers ($ROUTERS) may disagree now: run pulumi up again (it finds which and switches them all)."
else
    log "Nothing waits for confirmation on $ROUTER_NAME: its switch changed nothing"
fi
