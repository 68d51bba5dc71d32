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
    # The lint checks every shell script with shellcheck: installed here as root (as .ci/run does).
    if ! command -v shellcheck >/dev/null 2>&1; then
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            say "installing shellcheck (apt-get)"
            apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
        else
            say "error: npm test lints every shell script with shellcheck, which is not installed."
            say "Install it (sudo apt-get install shellcheck), or run single suites: npm test -- <files>"
            exit 1
        fi
    fi
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
