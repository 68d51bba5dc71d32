#!/usr/bin/env bash
# Runs an operator script (history, rollback, deploy, recover) with the local stack's environment
# from .envrc unless a backend is already configured (e.g. production CI).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${PULUMI_BACKEND_URL:-}" ] && [ -f "$root/.envrc" ]; then
    # shellcheck disable=SC1091 # .envrc is written by scripts/local-env.sh, not in the repository
    source "$root/.envrc"
fi
# Offline, whichever backend: no update check, no plugin downloads (as every Pulumi call here).
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
name=$1
shift
exec node -r "$root/node_modules/ts-node/register/transpile-only" "$root/scripts/ops/$name.ts" "$@"
