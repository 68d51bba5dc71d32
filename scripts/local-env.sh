#!/usr/bin/env bash
# Writes .envrc (direnv convention) with what the plain `pulumi` commands need to work on the
# local stack: the bootstrapped CLI on PATH, a file backend and passphrase inside this project
# (the user's own Pulumi login and stacks are never touched), and offline defaults.
# Usage: scripts/local-env.sh <pulumi bin dir>
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pulumi_dir=$1
state="$root/.state"
mkdir -p "$state/backend"
# The backend (the stack's state, its history) is yours alone. The apps' and nginx workers' own
# users, when you are root, pass through .state to their directories under stateDir (each
# closed to others) without listing anything.
chmod 700 "$state/backend"
chmod 711 "$state"
if [ ! -s "$state/passphrase" ]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$state/passphrase")
fi
# The local stack's salt and secrets in Pulumi.local.yaml belong to this clone only: keep
# them out of commits.
if git -C "$root" ls-files --error-unmatch Pulumi.local.yaml >/dev/null 2>&1; then
    git -C "$root" update-index --skip-worktree Pulumi.local.yaml
fi
cat >"$root/.envrc" <<ENVRC
# Written by npm start (scripts/local-env.sh). \`source .envrc\` (or direnv) before pulumi commands.
export PATH="$pulumi_dir:\$PATH"
export PULUMI_BACKEND_URL="file://$state/backend"
export PULUMI_CONFIG_PASSPHRASE_FILE="$state/passphrase"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
ENVRC
# A Pulumi home of its own (plugins, credentials) stays the one these commands use.
if [ -n "${PULUMI_HOME:-}" ]; then
    printf 'export PULUMI_HOME="%s"\n' "$PULUMI_HOME" >>"$root/.envrc"
fi
