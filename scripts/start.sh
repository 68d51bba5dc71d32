#!/usr/bin/env bash
# `npm start`: the local blue-green stack, serving. Installs and builds what it needs, creates
# the `local` stack on a file backend inside this project, and runs `pulumi up`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf '[start] %s\n' "$*" >&2; }

pulumi_dir=$(bash scripts/setup.sh | tail -n 1)

# nginx, curl, and the Lua module that the default switchMode (no-reload) loads.
lua_module=/usr/lib/nginx/modules/ngx_http_lua_module.so
for tool in nginx:nginx curl:curl "$lua_module:libnginx-mod-http-lua"; do
    command -v "${tool%%:*}" >/dev/null 2>&1 && continue
    [ -f "${tool%%:*}" ] && continue
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${tool#*:} (apt-get)"
        apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tool#*:}" >/dev/null
        # Debian starts its own nginx on port 80; this project runs its own instance.
        if [ -f /run/nginx.pid ]; then nginx -s quit 2>/dev/null || true; fi
    else
        if [ "${tool%%:*}" = "$lua_module" ]; then
            say "error: the default switch mode (no-reload) needs nginx's Lua module. Install it"
            say "(sudo apt-get install libnginx-mod-http-lua), or switch by reloads: add"
            say "'bluegreen:switchMode: reload' to Pulumi.local.yaml"
        else
            say "error: ${tool%%:*} is required. Install it, e.g.: sudo apt-get install ${tool#*:}"
        fi
        exit 1
    fi
done

bash scripts/local-env.sh "$pulumi_dir"
# shellcheck disable=SC1091 # .envrc is written by scripts/local-env.sh, not in the repository
source .envrc

if ! pulumi stack select local 2>/dev/null; then
    say "creating the local stack (file backend in .state/backend)"
    pulumi stack init local --secrets-provider passphrase >/dev/null
fi
if ! pulumi config >/dev/null 2>&1; then
    say "error: the local stack's secrets cannot be read with .state/passphrase; Pulumi.local.yaml's"
    say "encryptionsalt no longer matches it (was the file reset or copied from another clone?)."
    say "Fix: put back this clone's Pulumi.local.yaml, or start the local stack afresh:"
    say "  npm stop; rm -rf .state/backend .state/passphrase; git checkout Pulumi.local.yaml; npm start"
    exit 1
fi
if ! pulumi config get drainToken >/dev/null 2>&1; then
    say "generating the drain token (stored as a Pulumi secret)"
    # On standard input: a command line is readable by every local user.
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' | pulumi config set --secret drainToken
fi

pulumi up --yes --message "npm start"

public_url=$(pulumi stack output publicUrl)
live=$(pulumi stack output activeColor)
idle=$([ "$live" = blue ] && echo green || echo blue)
hint() { printf '  %-58s # %s\n' "$1" "$2"; }
echo
echo "The local blue-green stack is serving: $public_url  (live: $live)"
echo
hint "source .envrc" "once per shell: PATH, backend, passphrase"
hint "curl -i $public_url/" "X-Deploy-Color says which pool answered"
hint "pulumi config set ${idle}Version 1.0.1 && pulumi up" "deploy a new version to the idle pool"
hint "pulumi config set activeColor $idle" "choose the pool to go live"
hint "pulumi preview --diff" "read the nginx change first"
hint "pulumi up" "switch, only if $idle is healthy"
hint "pulumi config set activeColor $live && pulumi up" "roll back"
hint "pulumi stack history" "every switch and its config"
hint "npm stop" "destroy the stack, stop nginx and the apps"
