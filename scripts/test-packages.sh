#!/usr/bin/env bash
# The Debian packages the tests need, installed when missing (as root, with apt-get); elsewhere
# it names what to install. Run by .ci/run and by a full npm test.
# nginx (+ its Lua module): the router under test (started by the tests themselves, in
# unprivileged prefix dirs).
# curl: health gates and smoke checks in templates/scripts. openssh + iproute2: the ssh target's
# network-namespace hosts. systemd: only systemd-analyze, which checks the rendered units.
# cloud-init: only its schema check of the aws target's rendered user-data. openssl: a
# self-signed certificate for the TLS config tests. git: the quick-start test clones the repo.
# And shellcheck: npm test lints every shell script first (scripts/lint.sh). sudo: the aws root
# helper's tests run it as the app user; passwd (useradd) and util-linux (setpriv, runuser): the
# dedicated app and nginx users, made by the scripts when the tests run as root. lego: the ACME
# client the nginx host runs for certificates (the tests' CA, pebble, is built from Go modules).
# prometheus: only promtool, Prometheus' own check of the metrics nginx serves.
# keepalived: the routers' floating address (virtualIp), run by the routers suite in its namespaces.
# postgresql: a throwaway server per test (test/support/postgres.ts) for the stack state a team shares.
set -euo pipefail
say() { printf '[packages] %s\n' "$*" >&2; }
need=()
for pkg_bin in nginx:nginx curl:curl openssh-server:sshd iproute2:ip systemd:systemd-analyze \
    cloud-init:cloud-init openssl:openssl git:git shellcheck:shellcheck sudo:visudo passwd:useradd \
    util-linux:setpriv util-linux:runuser lego:lego prometheus:promtool keepalived:keepalived; do
    command -v "${pkg_bin#*:}" >/dev/null 2>&1 || need+=("${pkg_bin%%:*}")
done
# The no-reload switch mode loads nginx's Lua module (with its NDK dependency).
[ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] || need+=(libnginx-mod-http-lua)
# PostgreSQL's binaries are off PATH, under its major version.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
        say "warning: suites that need these will fail: ${need[*]}. Install them: sudo apt-get install ${need[*]}"
    fi
fi
# Debian's nginx package starts a system nginx on port 80; the tests never use it, and it
# must not hold ports, so stop it if the install started one.
if [ -f /run/nginx.pid ] && [ "$(id -u)" -eq 0 ]; then
    nginx -s quit 2>/dev/null || true
fi
