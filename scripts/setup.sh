#!/usr/bin/env bash
# Everything `npm start` and `npm test` need before they run, idempotent and quick when done:
# npm dependencies, the Pulumi toolchain, the compiled program.
# Prints, as its last line, the directory that holds `pulumi`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf '[setup] %s\n' "$*" >&2; }

command -v node >/dev/null 2>&1 || { say "error: Node.js 20+ is required (https://nodejs.org)"; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { say "error: Node.js 20+ is required, found $(node --version)"; exit 1; }

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund >&2
fi

pulumi_dir=$(bash scripts/bootstrap-toolchain.sh | tail -n 1)

say "type-checking and compiling (tsc): the reference app runs from bin/"
npx --no-install tsc -p tsconfig.check.json >&2

echo "$pulumi_dir"
