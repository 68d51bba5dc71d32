# shellcheck shell=bash
# Runs in place of hook-run.sh when a hook's settings or scripts changed but not the release going
# live: a hook runs once per release going live, never again for the same one.
need HOOK POOL_COLOR APP_VERSION
log "The $HOOK hook did not run again: it ran when $POOL_COLOR ($APP_VERSION) went live"
printf 'bluegreen-hook {"hook":"%s","ran":false,"exitStatus":0,"seconds":0,"color":"%s","version":"%s",%s}\n' \
    "$HOOK" "$POOL_COLOR" "$APP_VERSION" '"ranAt":""'
