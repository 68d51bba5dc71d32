#!/usr/bin/env bash
# Builds Let's Encrypt's ACME test server (pebble) and its challenge test server (DNS answers
# for the test's host names) from Go modules once, into .state/tools, and prints the directory.
# Used by the ACME tests: a real CA protocol, run on loopback.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
version=v2.10.3
dir="$root/.state/tools/pebble-$version"
if [ ! -x "$dir/pebble" ] || [ ! -x "$dir/pebble-challtestsrv" ]; then
    if ! command -v go >/dev/null 2>&1; then
        echo "pebble: Go is needed to build it (go install github.com/letsencrypt/pebble/v2/cmd/pebble@$version)" >&2
        exit 1
    fi
    mkdir -p "$dir"
    echo "[pebble] building $version from Go modules (about 15 s)" >&2
    GOBIN="$dir" go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$version" \
        "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$version" >&2
fi
echo "$dir"
