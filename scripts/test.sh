#!/usr/bin/env bash
# `npm test`: set up what is missing, then run every suite (unit, template, integration).
# A full run (no arguments) first lints (npm run lint: a finding fails it before any test) and
# at the end renders docs/reliability.md from the rows its tests recorded.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf '[test] %s\n' "$*" >&2; }
pulumi_dir=$(bash scripts/setup.sh | tail -n 1)
export PATH="$pulumi_dir:$PATH"
full_run=$([ $# -eq 0 ] && echo true || echo false)
if [ "$full_run" = true ]; then
    # The Debian packages the suites need (shellcheck for the lint first): installed here as root,
    # as .ci/run does; elsewhere named.
    bash scripts/test-packages.sh
    bash scripts/lint.sh || { say "error: npm run lint found problems (above); no test ran"; exit 1; }
    rm -f .state/reliability/rows.jsonl
fi
status=0
npx --no-install mocha --reporter test/support/reporter.js \
    'test/unit/**/*.test.ts' 'test/template/**/*.test.ts' 'test/integration/**/*.test.ts' "$@" || status=$?
if [ "$full_run" = true ] && [ "$status" -eq 0 ]; then
    npx --no-install ts-node --transpile-only scripts/reliability-report.ts
fi
exit "$status"
