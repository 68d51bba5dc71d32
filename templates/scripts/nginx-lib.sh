# shellcheck shell=bash
# The router's nginx instance, shared by nginx-switch.sh and nginx-stop.sh: where it lives, how
# it is run (under its systemd unit where systemd runs; on its own elsewhere; as the login
# either way) and how its master is found.
need NGINX_PREFIX
# optional: NGINX_BIN NGINX_UNIT_TEXT SUPERVISOR
nginx_bin=${NGINX_BIN:-nginx}
command -v "$nginx_bin" >/dev/null 2>&1 ||
    fail "nginx is not installed on the router host (looked for '$nginx_bin'). Install it: apt-get install nginx"
pid_file="$NGINX_PREFIX/logs/nginx.pid"
# shellcheck disable=SC2034 # used by nginx-stop.sh and switch-lib.sh, which come after this file
nginx_unit=bluegreen-nginx.service
# shellcheck disable=SC2034 # with an ACME CA: the certificate's renewal (acme-switch.sh), removed with nginx's
renewal_unit=bluegreen-acme-renew.service renewal_timer=bluegreen-acme-renew.timer

# use_systemd: the router's nginx runs under its systemd unit (where systemd is the init system
# and the supervisor setting allows it); elsewhere it runs on its own, tracked by its pid file.
use_systemd() { [ -n "${NGINX_UNIT_TEXT:-}" ] && [ "${SUPERVISOR:-process}" != process ] && systemd_runs; }

# run_nginx ARGS...: as the login, whose master it is (its unit runs nginx as the login), with
# nothing of this script's environment but PATH, nor its certificate lock (fd 9, acme-lib.sh): a
# master started here keeps what it was started with for life, and Pulumi's, CI's and the
# scripts' variables (passphrase, cloud keys) are not nginx's business. (Its unit starts it with
# systemd's own clean environment.) A master still running as root, started by an earlier
# version's unit, takes signals from root only: sudo then, as before (ssh hosts with their own
# sudo rules, until it moves: docs/ssh.md).
run_nginx() {
    local pid
    if [ "$(id -u)" != 0 ] && pid=$(master_pid) && [ "$(stat -c %u "/proc/$pid")" = 0 ]; then
        as_root "$(command -v "$nginx_bin")" -p "$NGINX_PREFIX/" -e "$NGINX_PREFIX/logs/error.log" "$@" 9>&-
    else
        env -i PATH="$PATH" "$nginx_bin" -p "$NGINX_PREFIX/" -e "$NGINX_PREFIX/logs/error.log" "$@" 9>&-
    fi
}

# foreign_in_prefix: the first file under the prefix that this login does not own (an earlier
# version's unit ran nginx as root, which left its logs and temp files root's), if any.
foreign_in_prefix() { find "$NGINX_PREFIX" ! -user "$(id -u)" -print -quit 2>/dev/null || true; }

# master_pid: the running master's pid, or fails when nginx is not running.
master_pid() {
    local pid
    pid=$(cat "$pid_file" 2>/dev/null) || return 1
    # /proc, not kill -0: a master started by systemd (root) is not signalable by a deploy user.
    [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -q 'nginx: master' "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}
