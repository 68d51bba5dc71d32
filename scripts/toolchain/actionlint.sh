#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow linter) from Go modules once, into
# .state/tools, and prints its path. Used by the test suite to check .github/workflows.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
version=v1.7.12
tools="$root/.state/tools"
bin="$tools/actionlint-$version"
if [ ! -x "$bin" ]; then
    if ! command -v go >/dev/null 2>&1; then
        echo "actionlint: Go is needed to build it (go install github.com/rhysd/actionlint/cmd/actionlint@$version)" >&2
        exit 1
    fi
    mkdir -p "$tools/gobin"
    echo "[actionlint] building $version from Go modules (about 15 s)" >&2
    GOBIN="$tools/gobin" go install "github.com/rhysd/actionlint/cmd/actionlint@$version" >&2
    mv "$tools/gobin/actionlint" "$bin"
fi
echo "$bin"
