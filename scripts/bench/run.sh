#!/usr/bin/env bash
# `npm run bench`: set up what is missing (as npm start does), then run the benchmarks.
# About ten minutes; only loopback traffic. `npm run bench -- --quick` for a short smoke run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
pulumi_dir=$(bash scripts/setup.sh | tail -n 1)
export PATH="$pulumi_dir:$PATH"
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "[bench] installing wrk (apt-get) for the full-rate throughput figures" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
    else
        echo "[bench] wrk is not installed: full-rate throughput figures will say so (sudo apt-get install wrk)" >&2
    fi
fi
exec node -r ts-node/register/transpile-only scripts/bench/bench.ts "$@"
