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
            as_root tee "$file" >/dev/null
            as_root systemctl daemon-reload
            as_root systemctl enable --quiet "$unit"
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

