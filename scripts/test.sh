#!/usr/bin/env bash
# `npm test`: set up what is missing, then run every suite (unit, template, integration).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
pulumi_dir=$(bash scripts/setup.sh | tail -n 1)
export PATH="$pulumi_dir:$PATH"
exec npx --no-install mocha --reporter test/support/reporter.js \
    'test/unit/**/*.test.ts' 'test/template/**/*.test.ts' 'test/integration/**/*.test.ts' "$@"
