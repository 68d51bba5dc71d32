# shellcheck shell=bash
# The source article's switch, reimplemented faithfully minus its bugs: health-check each
# new host one after another with curl and fixed 2-second sleeps, rewrite the active pool
# with sed, `nginx -t`, `nginx -s reload`. (Its bugs left out: PATH assigned inside the loop,
# client-chosen pools, draining the old pool right after the switch.)
need PREFIX NEW_COLOR NEW_PORTS
for port in $NEW_PORTS; do
    attempts=0
    until curl -fsS --max-time 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
        attempts=$((attempts + 1))
        [ "$attempts" -lt 15 ] || fail "127.0.0.1:$port never became healthy"
        sleep 2
    done
    sleep 2 # the article waits between hosts
done
sed -i "s/app_[a-z]*;/app_$NEW_COLOR;/; s/\(active_color { default \)[a-z]*;/\1$NEW_COLOR;/" \
    "$PREFIX/conf/active-pool.conf"
nginx -p "$PREFIX/" -e "$PREFIX/logs/error.log" -c "$PREFIX/conf/nginx.conf" -t -q
nginx -p "$PREFIX/" -e "$PREFIX/logs/error.log" -c "$PREFIX/conf/nginx.conf" -s reload
log "switched to $NEW_COLOR"
