#!/usr/bin/env bash
# `npm run bench`: set up what is missing (as npm start does), then run the benchmarks.
# About 18 minutes; only loopback traffic. `npm run bench -- --quick` for a short smoke run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
pulumi_dir=$(bash scripts/setup.sh | tail -n 1)
export PATH="$pulumi_dir:$PATH"
# wrk for the full-rate figures; nginx's njs module for the switch-mechanism comparison.
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ -f /usr/lib/nginx/modules/ngx_http_js_module.so ] || missing+=(libnginx-mod-http-js)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "[bench] installing ${missing[*]} (apt-get)" >&2
        apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "[bench] not installed: ${missing[*]}; the figures that need them will say so" \
            "(sudo apt-get install ${missing[*]})" >&2
    fi
fi
exec node -r ts-node/register/transpile-only scripts/bench/bench.ts "$@"
