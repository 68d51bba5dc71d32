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

# as_root COMMAND...: units and systemctl need root; a deploy user gets there with sudo.
as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    else
        sudo -n "$@" || fail "'$*' needs root, and sudo -n refused: give the SSH user passwordless sudo for" \
            "systemctl and tee /etc/systemd/system/bluegreen-*.service, or log in as root"
    fi
}

# install_unit NAME TEXT: writes /etc/systemd/system/NAME when it differs, reloads systemd,
# enables the unit (it starts at boot). Never starts or restarts it.
install_unit() {
    local file="/etc/systemd/system/$1"
    printf '%s\n' "$2" | cmp -s - "$file" && return 0
    printf '%s\n' "$2" | as_root tee "$file" >/dev/null
    as_root systemctl daemon-reload
    as_root systemctl enable --quiet "$1"
}

