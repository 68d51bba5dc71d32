#!/bin/bash -p
# bluegreen-root: the one command the bluegreen login may run as root (sudoers names nothing
# else). cloud-init installs it from templates/root/bluegreen-root.sh; see docs/aws.md.
#   bluegreen-root start|stop UNIT
#   bluegreen-root install-unit UNIT < TEXT   written if it differs, daemon-reload, enable
#   bluegreen-root remove-unit UNIT           disable --now, delete, daemon-reload
# UNIT is one of this host's units (a pool host's app; the nginx host's nginx, and with an ACME
# CA its certificate renewal and timer); a unit is installed only in the project's shape, running
# as the login, never root. /etc/bluegreen/root.conf (root's) holds user= (the login), dir= (remoteDir)
# and role= (pool or nginx). A refusal exits 2 naming the value, before anything changed.
set -euo pipefail
# Nothing from the caller's environment: not its PATH, locale, temporary directory or umask.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
LC_ALL=C
export PATH LC_ALL
unset TMPDIR
umask 022
cd /
if [ "$EUID" != 0 ]; then
    printf 'bluegreen-root: run it as root: sudo -n %s VERB UNIT\n' "$0" >&2
    exit 1
fi

readonly SETTINGS=/etc/bluegreen/root.conf UNIT_DIR=/etc/systemd/system MAX_UNIT_BYTES=16384

refuse() {
    printf 'bluegreen-root: refused: %s\n' "$*" >&2
    exit 2
}

# shown VALUE: VALUE quoted for a message, anything unprintable as '?'.
shown() { printf "'%s'" "${1//[^[:print:]]/?}"; }

# load_settings: user, dir and role from SETTINGS, which only root may have written.
load_settings() {
    local path owner mode line key value uid
    if [ ! -f "$SETTINGS" ] || [ -L "$SETTINGS" ]; then
        refuse "$SETTINGS is missing (cloud-init writes it; on other hosts see docs/ssh.md)"
    fi
    for path in "$SETTINGS" "${SETTINGS%/*}"; do
        read -r owner mode < <(stat -c '%u %a' "$path")
        if [ "$owner" != 0 ] || ((8#$mode & 8#022)); then
            refuse "$path must belong to root and be writable by root only (owner uid $owner, mode $mode)"
        fi
    done
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in '' | '#'*) continue ;; esac
        key=${line%%=*}
        value=${line#*=}
        case $key in
            user) app_user=$value ;;
            dir) remote_dir=$value ;;
            role) role=$value ;;
            *) refuse "$SETTINGS: unknown line $(shown "$line") (it holds user=, dir= and role=)" ;;
        esac
    done <"$SETTINGS"
    [[ ${app_user:-} =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] ||
        refuse "$SETTINGS: user=$(shown "${app_user:-}") is not a login name"
    uid=$(id -u "$app_user" 2>/dev/null) || refuse "$SETTINGS: user $app_user does not exist"
    [ "$uid" != 0 ] || refuse "$SETTINGS: user $app_user is root; the units must run as the login, never root"
    if ! [[ ${remote_dir:-} =~ ^(/[A-Za-z0-9._-]+)+$ ]] || [[ $remote_dir/ == */../* || $remote_dir/ == */./* ]]; then
        refuse "$SETTINGS: dir=$(shown "${remote_dir:-}") is not an absolute directory without . or .."
    fi
    case ${role:-} in
        pool) own_units="bluegreen-app.service" ;;
        nginx) own_units="bluegreen-nginx.service bluegreen-acme-renew.service bluegreen-acme-renew.timer" ;;
        *) refuse "$SETTINGS: role=$(shown "${role:-}") is neither pool nor nginx" ;;
    esac
    app_dir=$remote_dir/app
    prefix=$remote_dir/nginx
    nginx_args="-p $prefix/ -e $prefix/logs/error.log -c $prefix/conf/nginx.conf"
}

# app_command VALUE: the app unit's ExecStart: a shell, as the login, reads app.env and appends
# to app.log (systemd would open them as root, following links), then runs a start command of
# appStartCommand's characters: no quote, $, %, backslash, ; & | or redirection.
app_command() {
    local head="/bin/sh -c 'set -a && . $app_dir/app.env && exec " tail=" >>$app_dir/app.log 2>&1'" start
    local command_pattern='^[A-Za-z0-9 ._/=:+-]{1,200}$'
    want="must be ExecStart=${head}COMMAND${tail}, COMMAND of letters, digits, space and . _ / = : + -"
    [[ $1 == "$head"*"$tail" ]] || return 1
    start=${1#"$head"}
    start=${start%"$tail"}
    [[ $start =~ $command_pattern ]]
}

# allowed SECTION.KEY VALUE: a line this unit may have, with its one value (else `want` says
# what is). Commands run as User= (no + or ! prefix passes); nginx only with the prefix, the
# renewal only the prefix's acme/renew, the login's own file.
allowed() {
    local exact='' pattern=''
    case $kind.$1 in
        *.Unit.Description) pattern='^[A-Za-z0-9 ._,:()/-]{1,200}$' ;;
        timer.Unit.*) ;;
        *.Unit.Wants | *.Unit.After) exact=network-online.target ;;
        timer.Install.WantedBy) exact=timers.target ;;
        timer.Timer.OnCalendar) pattern='^\*-\*-\* [0-9,:]{1,40}$' ;;
        timer.Timer.RandomizedDelaySec) pattern='^[0-9]{1,5}$' ;;
        timer.Timer.Persistent) exact=true ;;
        timer.*) ;;
        *.Install.WantedBy) exact=multi-user.target ;;
        *.Service.User) exact=$app_user ;;
        *.Service.NoNewPrivileges) exact=true ;;
        *.Service.KillMode) exact=mixed ;;
        *.Service.TimeoutStopSec) pattern='^[0-9]{1,5}$' ;;
        pool.Service.Type) exact=simple ;;
        pool.Service.WorkingDirectory) exact=$app_dir/current ;;
        pool.Service.ExecStart)
            app_command "$2"
            return
            ;;
        pool.Service.KillSignal) exact=SIGTERM ;;
        pool.Service.Restart) exact=on-failure ;;
        pool.Service.RestartSec) pattern='^[0-9]{1,3}$' ;;
        nginx.Service.Type) exact=forking ;;
        # Ports below 1024 (publicPort 80, 443), without root.
        nginx.Service.AmbientCapabilities) exact=CAP_NET_BIND_SERVICE ;;
        nginx.Service.PIDFile) exact=$prefix/logs/nginx.pid ;;
        nginx.Service.ExecStartPre) exact="nginx -t -q $nginx_args" ;;
        nginx.Service.ExecStart) exact="nginx $nginx_args" ;;
        nginx.Service.ExecReload) exact="nginx $nginx_args -s reload" ;;
        nginx.Service.ExecStop) exact="nginx $nginx_args -s quit" ;;
        renew.Service.Type) exact=oneshot ;;
        renew.Service.ExecStart) exact=$prefix/acme/renew ;;
    esac
    if [ -z "$exact$pattern" ]; then
        want="${1#*.} is not a key $unit may set in [${1%%.*}]"
        return 1
    fi
    if [ -n "$pattern" ]; then
        want="${1#*.} must match $pattern"
        [[ $2 =~ $pattern ]]
    else
        want="must be ${1#*.}=$exact"
        [ "$2" = "$exact" ]
    fi
}

# check_unit FILE: each line a comment, a section or an allowed Key=value, each once, read as
# systemd reads it (nothing this sees as two lines is one line to systemd).
check_unit() {
    local n=0 line key value section='' seen=' ' required sections='[Unit] [Service] [Install]'
    local -a needed=(Service.User Service.NoNewPrivileges Service.ExecStart)
    if [ "$kind" = timer ]; then
        sections='[Unit] [Timer] [Install]'
        needed=(Timer.OnCalendar)
    fi
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        # systemd joins a line that ends in a backslash to the next one, comments too.
        [[ $line != *\\ ]] || refuse "$unit line $n $(shown "$line") ends in a backslash"
        case $line in
            '' | '#'* | ';'*) continue ;;
            '['*']')
                [[ " $sections " == *" $line "* ]] || refuse "$unit line $n $(shown "$line") is not a section of $unit"
                section=${line:1:${#line}-2}
                [[ $seen != *" [$section] "* ]] || refuse "$unit line $n: section [$section] again"
                seen+="[$section] "
                continue
                ;;
        esac
        [[ $line =~ ^([A-Za-z]+)=(.*)$ ]] ||
            refuse "$unit line $n $(shown "$line") is neither a section ($sections) nor Key=value"
        key=${BASH_REMATCH[1]}
        value=${BASH_REMATCH[2]}
        [ -n "$section" ] || refuse "$unit line $n $(shown "$line") comes before any section"
        [[ $seen != *" $section.$key "* ]] || refuse "$unit line $n: $key is set twice in [$section]"
        seen+="$section.$key "
        allowed "$section.$key" "$value" || refuse "$unit line $n $(shown "$line"): $want"
    done <"$1"
    for required in "${needed[@]}"; do
        [[ $seen == *" $required "* ]] || refuse "$unit has no ${required#*.}= line in [${required%%.*}]"
    done
}

# install_unit: the text on standard input, checked, then put in place in one rename.
install_unit() {
    local dir size
    dir=$(mktemp -d /tmp/bluegreen-root.XXXXXX)
    # shellcheck disable=SC2064 # expanded now: dir is local
    trap "rm -rf '$dir'" EXIT
    head -c $((MAX_UNIT_BYTES + 1)) >"$dir/unit"
    size=$(stat -c %s "$dir/unit")
    [ "$size" -gt 0 ] || refuse "$unit: no unit text on standard input"
    [ "$size" -le "$MAX_UNIT_BYTES" ] || refuse "$unit: the unit text is over $MAX_UNIT_BYTES bytes"
    # No NUL, carriage return, tab or other byte that systemd and this check might read apart.
    [ "$(tr -d '\n -~' <"$dir/unit" | wc -c)" = 0 ] ||
        refuse "$unit: the unit text has bytes other than printable ASCII and newlines"
    check_unit "$dir/unit"
    cmp -s "$dir/unit" "$UNIT_DIR/$unit" && return 0
    install -m 0644 -o root -g root "$dir/unit" "$UNIT_DIR/.$unit.new"
    mv -f "$UNIT_DIR/.$unit.new" "$UNIT_DIR/$unit"
    systemctl daemon-reload
    # A timer's service has no [Install]: the timer starts it, nothing enables it.
    if grep -q '^\[Install\]' "$UNIT_DIR/$unit"; then systemctl enable --quiet "$unit"; fi
}

remove_unit() {
    [ -e "$UNIT_DIR/$unit" ] || return 0
    systemctl disable --now --quiet "$unit"
    rm -f "$UNIT_DIR/$unit"
    systemctl daemon-reload
}

[ $# = 2 ] || refuse "expected VERB UNIT (start, stop, install-unit or remove-unit, then a unit), got $# argument(s)"
verb=$1
unit=$2
case $verb in
    start | stop | install-unit | remove-unit) ;;
    *) refuse "unknown verb $(shown "$verb") (expected start, stop, install-unit or remove-unit)" ;;
esac
load_settings
known=false
for candidate in $own_units; do [ "$unit" != "$candidate" ] || known=true; done
[ "$known" = true ] || refuse "unit $(shown "$unit"): this $role host's helper manages $own_units only"
case $unit in
    bluegreen-acme-renew.service) kind=renew ;;
    bluegreen-acme-renew.timer) kind=timer ;;
    *) kind=$role ;;
esac
case $verb in
    start | stop) systemctl "$verb" "$unit" ;;
    install-unit) install_unit ;;
    remove-unit) remove_unit ;;
esac
