# shellcheck shell=bash
# Prepended to every script in templates/scripts before it runs (see components/templates.ts).
# Values arrive only through environment variables set by the Pulumi program.
set -euo pipefail

# Every value arrives as BLUEGREEN_<NAME> (the one prefix an SSH server must accept, see
# components/hosts.ts); scripts use the plain names.
for bluegreen_var in $(compgen -e); do
    case $bluegreen_var in
        BLUEGREEN_ON_*) ;;
        BLUEGREEN_?*) export "${bluegreen_var#BLUEGREEN_}=${!bluegreen_var}" ;;
    esac
done
unset bluegreen_var

# Nothing the scripts write (logs, pid files, tokens, configs) is readable by other users; a
# dedicated user (the apps', nginx workers') gets in through its group where it must (stack_dir).
umask 027

log() { printf '%s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

# need VAR... : every named variable must be set and non-empty.
need() {
    local name
    for name in "$@"; do
        [ -n "${!name:-}" ] || fail "$name is not set (the Pulumi program passes it; this is a bug)"
    done
}

# Bash 5's EPOCHREALTIME needs no process (the gate calls this per host, per round); older
# shells fall back to date.
now_ms() {
    if [ -n "${EPOCHREALTIME:-}" ]; then
        local micros=${EPOCHREALTIME/[.,]/}
        printf '%s\n' $((micros / 1000))
    else
        date +%s%3N
    fi
}

# sleep_ms N: the polling interval between two checks.
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# fetch URL BODY_FILE [curl args...]: prints the HTTP status (000 when nothing answered).
fetch() {
    local url=$1 body=$2; shift 2
    curl --silent --show-error --max-time 2 --output "$body" --write-out '%{http_code}' "$@" "$url" 2>/dev/null || true
}

# final_status STATUS: an answer waiting cannot change: a 4xx other than 408 (timeout), 425 (too
# early) and 429 (too many requests). An app that checks Host answers 400, 403 or 421 for ever.
final_status() { [[ $1 == 4?? && $1 != 408 && $1 != 425 && $1 != 429 ]]; }

# refused_hint STATUS: what to do about a final answer to the project's own /health check.
refused_hint() {
    if [ -n "${HOST_HEADER:-}" ]; then
        echo "The check sent Host: $HOST_HEADER. If the app serves other names, list them first in hostNames" \
            "(pulumi config set --path 'hostNames[0]' <the name it serves>)."
    else
        echo "If the app checks the Host header (421, 400 or 403 to unknown names), set the name it serves:" \
            "pulumi config set --path 'hostNames[0]' <the name>."
    fi
}

# is_ready BODY_FILE [VERSION]: the body is the contract's ready answer (for VERSION, if given).
# Bash builtins only, no grep per host: the gate checks many bodies each round.
is_ready() {
    local body='' status_pattern='"status"[[:space:]]*:[[:space:]]*"ready"'
    local version_pattern='"version"[[:space:]]*:[[:space:]]*"([^"]*)"'
    [ -r "$1" ] || return 1
    IFS= read -r -d '' body <"$1" || true
    [[ $body =~ $status_pattern ]] || return 1
    [ -z "${2:-}" ] && return 0
    [[ $body =~ $version_pattern ]] && [ "${BASH_REMATCH[1]}" = "$2" ]
}

# random_hex BYTES: BYTES random bytes as hex digits (tokens, instance ids).
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# echoed_instance BODY_FILE: the instance id a /health body echoes (INSTANCE_ID), if any.
echoed_instance() {
    local body='' pattern='"instance"[[:space:]]*:[[:space:]]*"([0-9a-f]*)"'
    IFS= read -r -d '' body <"$1" || true
    [[ $body =~ $pattern ]] && printf '%s' "${BASH_REMATCH[1]}"
    return 0
}

# one_line FILE: a file's text on one line, cut to 300 characters, for error messages.
one_line() { { tr '\n' ' ' <"$1"; } 2>/dev/null | cut -c1-300; }

# systemd_runs: systemd is the init system here (units can be installed and started).
systemd_runs() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# The root helper (templates/root/bluegreen-root.sh), which cloud-init installs on aws hosts:
# there the only command sudo lets the login run as root.
root_helper=/usr/local/sbin/bluegreen-root

# as_root COMMAND...: where there is no root helper, a login that is not root gets there with
# its own sudo rules (ssh target).
as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    else
        sudo -n "$@" || fail "'$*' needs root, and sudo -n refused: log in as root, install the root helper" \
            "(docs/ssh.md), or give the SSH user passwordless sudo for this command"
    fi
}

# unit_as_root VERB UNIT: start, stop, install-unit (the text on stdin: written, systemd
# reloaded, the unit enabled) or remove-unit (stopped, disabled, deleted) for one of the
# project's units. A login that is not root goes through the root helper where it is installed,
# which checks the unit's name and text; returns the status of what failed.
unit_as_root() {
    local verb=$1 unit=$2 file="/etc/systemd/system/$2"
    if [ "$(id -u)" != 0 ] && [ -x "$root_helper" ]; then
        sudo -n "$root_helper" "$verb" "$unit"
        return
    fi
    case $verb in
        start | stop) as_root systemctl "$verb" "$unit" ;;
        install-unit)
            # 0644 as systemd's own: the login compares it before installing (install_unit).
            (umask 022 && as_root tee "$file" >/dev/null)
            as_root systemctl daemon-reload
            # A unit another one starts (a timer's service) has no [Install]: nothing to enable.
            if grep -q '^\[Install\]' "$file"; then as_root systemctl enable --quiet "$unit"; fi
            ;;
        remove-unit)
            [ -e "$file" ] || return 0
            as_root systemctl disable --now --quiet "$unit"
            as_root rm -f "$file"
            as_root systemctl daemon-reload
            ;;
        *) fail "unit_as_root: unknown verb '$verb' (this is a bug)" ;;
    esac
}

# install_unit NAME TEXT: writes /etc/systemd/system/NAME when it differs, reloads systemd,
# enables the unit (it starts at boot). Never starts or restarts it.
install_unit() {
    printf '%s\n' "$2" | cmp -s - "/etc/systemd/system/$1" && return 0
    printf '%s\n' "$2" | unit_as_root install-unit "$1" || fail "installing the systemd unit $1 failed (above)"
}

# dedicated USER: USER is set and is not this login: the scripts run as root and what they start
# runs as USER (bluegreen-app, bluegreen-nginx), never as root. Elsewhere everything is the login's.
dedicated() { [ -n "${1:-}" ] && [ "$1" != "$(id -un)" ]; }

# system_user NAME: a system user and its group, made if missing: no login shell, no home. Hosts
# deploying in parallel may race: whoever loses finds it made.
system_user() {
    local try shell=/usr/sbin/nologin
    [ -x "$shell" ] || shell=/bin/false
    for try in 1 2 3 4 5 6 7 8 9 10; do
        id -u "$1" >/dev/null 2>&1 && return 0
        [ "$(id -u)" = 0 ] || fail "the user $1 does not exist, and only root can create it (useradd --system $1)"
        command -v useradd >/dev/null 2>&1 || fail "the user $1 does not exist, and useradd is missing to create it"
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$shell" "$1" \
            >/dev/null 2>&1 || sleep_ms $((try * 100))
    done
    id -u "$1" >/dev/null 2>&1 || fail "creating the system user $1 failed (useradd --system --user-group $1)"
}

# as_user USER COMMAND...: COMMAND as USER and its groups, in this process (the pid stays, so $!
# and pid files name the command itself), never gaining privileges again (no setuid).
as_user() { setpriv --reuid="$1" --regid="$1" --init-groups --no-new-privs "${@:2}"; }

# unreachable_by USER DIR: the first directory on the way to DIR that USER cannot enter, if any
# (nothing where setpriv, which tells, is missing).
unreachable_by() {
    local path="" part
    local -a parts
    command -v setpriv >/dev/null 2>&1 || return 0
    as_user "$1" test -x "$2" 2>/dev/null && return 0
    IFS=/ read -ra parts <<<"${2#/}"
    for part in "${parts[@]}"; do
        path="$path/$part"
        as_user "$1" test -x "$path" 2>/dev/null || { echo "$path"; return 0; }
    done
}

# stack_dir BASE DIR [USER]: DIR (BASE, the stack's directory, or under it) made if missing and
# private: 0700 like the directories from BASE down to it; for a dedicated USER, 0750 with USER's
# group, and those directories 0711: USER passes through them (as others may) but lists nothing.
stack_dir() {
    local base=$1 dir=$2 above=$2 mode=700
    mkdir -p "$dir"
    if dedicated "${3:-}"; then
        chgrp "$3" "$dir"
        chmod 750 "$dir"
        mode=711
    else
        chmod 700 "$dir"
    fi
    while [ "${above#"$base"/}" != "$above" ]; do
        above=$(dirname "$above")
        chmod "$mode" "$above"
    done
}
